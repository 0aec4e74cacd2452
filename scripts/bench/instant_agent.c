/* An instant fake agent for kmilestone's overhead benchmark: it reads the prompt on stdin,
 * prints Claude Code's init line, appends the task's Complete section to the handoff, commits it
 * with git, and prints the result line. Its start time (CLOCK_REALTIME, ns) is appended to
 * $BENCH_AGENT_STARTS, so the benchmark can tell how long kmilestone took to start it. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static int run(char *const argv[]) {
    pid_t pid;
    int status;
    if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0) return 1;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    const char *starts = getenv("BENCH_AGENT_STARTS");
    if (starts) {
        FILE *f = fopen(starts, "a");
        if (f) { fprintf(f, "%lld\n", (long long)now.tv_sec * 1000000000LL + now.tv_nsec); fclose(f); }
    }
    static char prompt[1 << 24];
    size_t len = fread(prompt, 1, sizeof prompt - 1, stdin);
    prompt[len] = 0;
    const char *prompts = getenv("BENCH_PROMPTS");
    if (prompts) {
        FILE *f = fopen(prompts, "a");
        if (f) { fwrite(prompt, 1, len, f); fputs("\n\x1e\n", f); fclose(f); }
    }
    char task[64] = "?";
    const char *at = strstr(prompt, "\n- Current task: ");
    if (at) sscanf(at + 17, "%63s", task);
    printf("{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s-%s\",\"sandbox_enabled\":true}\n", task);
    fflush(stdout);
    FILE *h = fopen(getenv("BENCH_HANDOFF") ? getenv("BENCH_HANDOFF") : "HANDOFF_M9.md", "a");
    if (!h) return 1;
    fprintf(h, "\n## Task %s Complete: done\n", task);
    fclose(h);
    char message[96];
    snprintf(message, sizeof message, "Task %s", task);
    char *add[] = {"git", "add", "-A", NULL};
    char *commit[] = {"git", "commit", "-qm", message, NULL};
    if (run(add) || run(commit)) return 1;
    printf("{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"ok\","
           "\"session_id\":\"s-%s\",\"total_cost_usd\":0,\"usage\":{}}\n", task);
    return 0;
}

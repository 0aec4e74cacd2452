use std::process::ExitCode;

// The system allocator for kmilestone's own memory: a run peaks 1.2 MiB lower with it than with
// mimalloc, at the same speed (BENCHMARKS.md). tree-sitter's parsing, where mimalloc is faster,
// keeps it (`use_fast_parser_allocator`).
fn main() -> ExitCode {
    kmilestone::checks::use_fast_parser_allocator();
    let code = kmilestone::run(std::env::args_os());
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

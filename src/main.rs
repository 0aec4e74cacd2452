use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    kmilestone::checks::use_fast_parser_allocator();
    let code = kmilestone::run(std::env::args_os());
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

//! The `otklik` binary: parses the command line and runs it; errors end as one line on stderr.

// Many small allocations on many threads (HTTP, JSON, text analysis): glibc's allocator spends a
// sixth of the intake's time in its locks and consolidation; mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    otklik_server::cli::main()
}

//! The `otklik` binary: parses the command line and runs it; errors end as one line on stderr.

fn main() -> std::process::ExitCode {
    otklik_server::cli::main()
}

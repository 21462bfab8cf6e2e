//! The `groupscope` binary: everything lives in the library; this is the edge.

fn main() -> std::process::ExitCode {
    groupscope::cli::main()
}

//! The `groupscope` binary: everything lives in the library; this is the edge.

#[global_allocator]
static ALLOC: groupscope::alloc::HugePageAlloc = groupscope::alloc::HugePageAlloc;

fn main() -> std::process::ExitCode {
    groupscope::cli::main()
}

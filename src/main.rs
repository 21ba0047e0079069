use clap::Parser;

/// The matching engine makes and drops millions of small plan lines; mimalloc handles that
/// churn several times faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    weave::allocator::configure();
    let cli = weave::cli::Cli::parse();
    match weave::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

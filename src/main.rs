use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = weave::cli::Cli::parse();
    match weave::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

//! picseek's binary: parse the command line, set up logging, run the command.

mod cli;
mod commands;

use std::io::IsTerminal;
use std::process::ExitCode;

use cli::{Cli, Command};
use commands::Ctx;

fn main() -> ExitCode {
    let (cli, conflict) = Cli::parse_checked();
    let ctx = Ctx::new(&cli.common);
    // Quiet by default: picseek's own warnings only, as plain lines; libraries' log lines (sled's
    // among them) and timestamps only when RUST_LOG asks for them.
    let from_env = tracing_subscriber::EnvFilter::try_from_default_env().ok();
    let plain = from_env.is_none();
    let filter = from_env.unwrap_or_else(|| tracing_subscriber::EnvFilter::new("picseek=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // The terminal UI owns the screen: its log lines go to a file in the cache folder instead.
    if cli.command.is_none() && cli.index.is_none() {
        match tui_log(&ctx) {
            Some(file) => builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init(),
            None => builder.with_writer(std::io::sink).init(),
        }
    } else {
        // Colour only when a person is reading: not into a file or a pipe.
        let ansi = std::io::stderr().is_terminal();
        if plain {
            builder
                .without_time()
                .with_target(false)
                .with_ansi(ansi)
                .with_writer(std::io::stderr)
                .init();
        } else {
            builder.with_ansi(ansi).with_writer(std::io::stderr).init();
        }
    }
    // `search --json` promises one JSON object on stdout, errors included.
    let json = matches!(&cli.command, Some(Command::Search(a)) if a.json)
        || matches!(&cli.command, Some(Command::Dupes(a)) if a.json);
    match run(&cli, conflict, &ctx) {
        Ok(code) => code,
        Err(e) => {
            // Paths and file contents inside the message are escaped where they are
            // formatted; escaping the whole line again keeps any that were missed off
            // the terminal's control channel.
            eprintln!(
                "picseek: {}",
                picseek::display::escape_control(&format!("{e:#}"))
            );
            if json {
                println!("{}", serde_json::json!({ "error": format!("{e:#}") }));
            }
            ExitCode::FAILURE
        }
    }
}

/// The terminal UI's log file, `picseek.log` in the cache folder (appended to).
fn tui_log(ctx: &Ctx) -> Option<std::fs::File> {
    let dir = ctx.cache_dir();
    std::fs::create_dir_all(dir).ok()?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("picseek.log"))
        .ok()
}

fn run(cli: &Cli, conflict: Option<String>, ctx: &Ctx) -> anyhow::Result<ExitCode> {
    if let Some(conflict) = conflict {
        anyhow::bail!(conflict);
    }
    match &cli.command {
        Some(Command::Search(a)) => return commands::search::run(a, ctx),
        Some(Command::Dupes(a)) => commands::dupes::run(a, ctx)?,
        Some(Command::Legal(a)) => commands::legal::run(a, ctx)?,
        Some(Command::Declare(a)) => commands::declare::run(a, ctx)?,
        Some(Command::Train(a)) => commands::train::run(a, ctx)?,
        Some(Command::Eval(a)) => commands::eval::run(a, ctx)?,
        Some(Command::Bench(a)) => commands::bench::run(a, ctx)?,
        None => match &cli.index {
            Some(dir) => commands::index::run(dir, ctx)?,
            None => {
                let dir = cli.dir.as_deref().unwrap_or(std::path::Path::new("."));
                commands::tui::run(dir, &cli.tui, ctx)?
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}

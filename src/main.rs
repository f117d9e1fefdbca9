//! picseek's binary: parse the command line, set up logging, run the command.

mod cli;
mod commands;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use cli::{BenchCommand, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // The terminal UI owns the screen: its log lines go to a file in the cache folder instead.
    if cli.command.is_none() && cli.index.is_none() {
        match tui_log(&cli) {
            Some(file) => builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init(),
            None => builder.with_writer(std::io::sink).init(),
        }
    } else {
        // Colour only when a person is reading: not into a file or a pipe.
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .init();
    }
    // `search --json` promises one JSON object on stdout, errors included.
    let json = matches!(&cli.command, Some(Command::Search(a)) if a.json)
        || matches!(&cli.command, Some(Command::Dupes(a)) if a.json);
    match run(cli) {
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
fn tui_log(cli: &Cli) -> Option<std::fs::File> {
    let dir = commands::cache_dir(&cli.common);
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("picseek.log"))
        .ok()
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if cli.command.is_some() && cli.dir.is_some() {
        anyhow::bail!(
            "a folder for the terminal UI cannot be combined with a subcommand; subcommands take their own folder (see picseek SUBCOMMAND --help)"
        );
    }
    if cli.command.is_some() && cli.index.is_some() {
        anyhow::bail!("--index cannot be combined with a subcommand; run them one after the other");
    }
    match (&cli.command, &cli.index) {
        (Some(Command::Bench { what }), _) => match what {
            BenchCommand::Index {
                dir,
                runs,
                generate_12mp: None,
            } => commands::bench::index(dir, *runs, &cli.common)?,
            BenchCommand::Index {
                dir,
                runs,
                generate_12mp: Some(n),
            } => commands::bench::index_12mp(dir, *n, *runs, &cli.common)?,
            BenchCommand::Warm {
                dir,
                synthetic,
                runs,
            } => commands::bench::warm(dir, *synthetic, *runs, &cli.common)?,
            BenchCommand::Query {
                images,
                queries,
                top,
                examples,
            } => commands::bench::query(
                *images,
                *queries,
                *top,
                *examples,
                &match examples {
                    0 => format!("query_{images}"),
                    _ => format!("query_{images}_by_example"),
                },
                &cli.common,
            )?,
            BenchCommand::Memory { images, queries } => {
                commands::bench::query(*images, *queries, 50, 0, "memory", &cli.common)?
            }
            BenchCommand::Start { images, runs } => {
                commands::bench::start(*images, *runs, &cli.common)?
            }
            BenchCommand::Agreement { data, scale } => {
                commands::bench::agreement(&data.data, *scale, &cli.common)?
            }
            BenchCommand::Probe {
                root,
                queries,
                examples,
                top,
                data,
            } => commands::bench::probe(root, &data.data, *queries, *examples, *top, &cli.common)?,
            BenchCommand::Tui {
                dir,
                text,
                runs,
                tui,
            } => commands::bench_tui::run(dir, text, *runs, tui, &cli.common)?,
        },
        (Some(Command::Train { data, seed, epochs }), _) => {
            commands::train::train(&data.data, *seed, *epochs, &cli.common)?
        }
        (
            Some(Command::Eval {
                data,
                reports,
                no_child,
                outside,
            }),
            _,
        ) => commands::train::eval(
            &data.data,
            reports,
            no_child,
            outside.as_deref(),
            &cli.common,
        )?,
        (Some(Command::Search(args)), _) => return commands::search::run(args, &cli.common),
        (Some(Command::Dupes(args)), _) => commands::dupes::run(args, &cli.common)?,
        (Some(Command::Legal { data, no_child }), _) => {
            commands::legal::run(&data.data, no_child, &cli.common)?
        }
        (None, Some(dir)) => commands::index::run(dir, &cli.common)?,
        (None, None) => {
            let dir = cli.dir.clone().unwrap_or_else(|| ".".into());
            commands::tui::run(&dir, &cli.tui, &cli.common)?
        }
    }
    Ok(ExitCode::SUCCESS)
}

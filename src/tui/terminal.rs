//! The terminal loop: raw mode and the alternate screen (restored on quit, panic or signal),
//! keys and pastes into the [`Runtime`], frames and previews out.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event};
use ratatui::layout::Rect;
use ratatui::Terminal;

use super::preview::{self, Painter};
use super::worker::Engine;
use super::{Options, Runtime, TuiError};

/// Restores the terminal when dropped, and on a panic before the panic message is printed.
struct TerminalGuard;

fn restore_terminal() {
    let mut out = std::io::stdout();
    let _ = out.write_all(preview::KITTY_DELETE_ALL.as_bytes());
    let _ = crossterm::execute!(
        out,
        event::DisableBracketedPaste,
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = crossterm::terminal::disable_raw_mode();
}

impl TerminalGuard {
    fn enter() -> std::io::Result<Self> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
        crossterm::terminal::enable_raw_mode()?;
        let guard = TerminalGuard;
        crossterm::execute!(
            std::io::stdout(),
            crossterm::terminal::EnterAlternateScreen,
            event::EnableBracketedPaste
        )?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Fails unless stdin and stdout are a terminal.
pub fn check_terminal() -> Result<(), TuiError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(TuiError::NotATerminal);
    }
    Ok(())
}

/// SIGTERM, SIGHUP (the SSH connection dropped) and SIGINT end the UI: a watchdog thread sees
/// the signal within [`WATCH_EVERY`], restores the terminal and exits (see [`watch_for_the_end`]).
const QUIT_SIGNALS: [i32; 3] = [
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
    signal_hook::consts::SIGINT,
];

/// Runs the TUI until the user quits. A quit signal restores the terminal and ends the
/// process with the shell's code for it (128 + the signal number), without waiting for
/// workers: the cache survives being stopped at any point.
pub fn run(engine: Engine, options: Options) -> Result<(), TuiError> {
    check_terminal()?;
    let signal = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for sig in QUIT_SIGNALS {
        signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize)?;
    }
    std::thread::Builder::new()
        .name("picseek-watch".into())
        .spawn(move || watch_for_the_end(&signal))?;
    // Settled before anything reads the keyboard, so the terminal's answers never become keys.
    let protocol = preview::detect_quietly(options.preview);
    let _guard = TerminalGuard::enter()?;
    let mut terminal = Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))?;
    terminal.clear()?;
    let mut rt = Runtime::start(engine, options, protocol);
    let mut painter = Painter::new(protocol);
    let mut painted_rect: Option<Rect> = None;
    loop {
        if rt.dirty {
            let mut areas = rt.draw(&mut terminal)?;
            if areas.preview != painted_rect {
                // The preview moved, appeared or went: repaint everything so no stale image
                // pixels remain outside ratatui's knowledge.
                terminal.clear()?;
                painter.forget();
                areas = rt.draw(&mut terminal)?;
                painted_rect = areas.preview;
            }
            if let Some(rect) = areas.preview {
                paint(&rt, &mut painter, rect)?;
            }
        } else if let Some(rect) = painted_rect {
            // A preview may have arrived without any other change.
            paint(&rt, &mut painter, rect)?;
        }
        if !rt.to_terminal.is_empty() {
            let mut out = std::io::stdout().lock();
            out.write_all(&std::mem::take(&mut rt.to_terminal))?;
            out.flush()?;
        }
        if rt.app.quit {
            break;
        }
        if event::poll(rt.poll_timeout(Instant::now()))? {
            loop {
                let now = Instant::now();
                match event::read()? {
                    Event::Key(k) => rt.key(k, now),
                    Event::Paste(s) => rt.paste(&s, now),
                    Event::Resize(..) => {
                        terminal.autoresize()?;
                        terminal.clear()?;
                        painter.forget();
                        painted_rect = None;
                        rt.dirty = true;
                    }
                    _ => {}
                }
                if rt.app.quit || !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
        rt.pump();
    }
    drop(rt);
    Ok(())
}

/// How often the watchdog looks for a quit signal or a terminal that is gone.
const WATCH_EVERY: Duration = Duration::from_millis(25);

/// Ends the process on a quit signal, or when the terminal has gone away without a SIGHUP
/// reaching picseek (its window or tmux server killed): reads from such a terminal return
/// nothing at once, forever, and crossterm's reader spins on them inside `event::poll`, so the
/// UI loop would never run again. Such a terminal answers no terminal request
/// (`isatty` fails), which is how it is told apart. The terminal is restored (where it still
/// exists) and the exit code is 128 + the signal (SIGHUP's for a terminal gone).
fn watch_for_the_end(signal: &std::sync::atomic::AtomicUsize) {
    loop {
        std::thread::sleep(WATCH_EVERY);
        let mut sig = signal.load(std::sync::atomic::Ordering::Relaxed);
        if sig == 0 && !std::io::stdin().is_terminal() {
            sig = signal_hook::consts::SIGHUP as usize;
        }
        if sig != 0 {
            restore_terminal();
            tracing::info!("signal {sig}: terminal restored, exiting");
            std::process::exit(128 + sig as i32);
        }
    }
}

fn paint(rt: &Runtime, painter: &mut Painter, rect: Rect) -> std::io::Result<()> {
    let Some(path) = rt.app.selected_path() else {
        return Ok(());
    };
    if painter.shows(path, rect) {
        return Ok(());
    }
    let Some(p) = rt.preview_for(rect) else {
        return Ok(());
    };
    let mut out = std::io::stdout().lock();
    match &p.image {
        Ok(img) => painter.paint(&mut out, rect, path, img),
        Err(_) => painter.blank(&mut out, rect, path),
    }
}

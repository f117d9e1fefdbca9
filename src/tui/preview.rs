//! Painting the preview with viuer, which writes to the terminal outside ratatui's buffer.
//!
//! - The graphics protocol is settled once, before the event loop reads the keyboard, so
//!   viuer's terminal queries never race the input reader (their answers would otherwise
//!   arrive as keys in the query line).
//! - The image is painted only inside the preview rectangle, whose cells ratatui skips, and
//!   centred; the parts of the rectangle it does not cover are blanked, so moving through the
//!   list replaces one image by the next without a blank frame in between.
//! - When the rectangle changes (resize, help, empty results) the runtime clears the screen and
//!   calls [`Painter::forget`].

use std::io::Write;
use std::path::{Path, PathBuf};

use crossterm::{cursor::MoveTo, queue, style::ResetColor};
use image::DynamicImage;
use ratatui::layout::Rect;

/// The kitty graphics command that deletes every image placement (quietly).
pub const KITTY_DELETE_ALL: &str = "\x1b_Ga=d,d=A,q=2\x1b\\";

/// How previews are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Half blocks (▀ ▄) in true colour or 256 colours: works over SSH and in tmux.
    Blocks,
    Kitty,
    Iterm,
    Sixel,
    /// No previews.
    Off,
}

impl Protocol {
    /// Pixels a cell stands for when a preview is prepared.
    pub fn cell_px(self) -> (u32, u32) {
        match self {
            Protocol::Blocks | Protocol::Off => (1, 2),
            _ => (10, 20),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Blocks => "half-blocks",
            Protocol::Kitty => "kitty",
            Protocol::Iterm => "iTerm2",
            Protocol::Sixel => "sixel",
            Protocol::Off => "off",
        }
    }
}

/// How previews are to be drawn (the command line's `--preview`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewMode {
    /// kitty, iTerm2 or sixel when the terminal supports them, else half-blocks.
    Auto,
    /// Always half-blocks.
    Blocks,
    /// No previews.
    Off,
}

/// Settles the protocol. Inside tmux or screen graphics protocols do not pass through, so
/// half-blocks are used without asking the terminal.
pub fn detect(mode: PreviewMode) -> Protocol {
    match mode {
        PreviewMode::Off => Protocol::Off,
        PreviewMode::Blocks => Protocol::Blocks,
        PreviewMode::Auto => {
            let multiplexed = std::env::var_os("TMUX").is_some()
                || std::env::var("TERM")
                    .is_ok_and(|t| t.starts_with("screen") || t.starts_with("tmux"));
            if multiplexed {
                Protocol::Blocks
            } else if viuer::is_iterm_supported() {
                Protocol::Iterm
            } else if viuer::get_kitty_support() != viuer::KittySupport::None {
                Protocol::Kitty
            } else if viuer::is_sixel_supported() {
                Protocol::Sixel
            } else {
                Protocol::Blocks
            }
        }
    }
}

/// [`detect`], without leaving the terminal's answers on screen: the questions are asked in raw
/// mode (nothing is echoed) and every answer that comes back is read and dropped. Without a
/// terminal on both ends nothing is asked: half-blocks (or off).
pub fn detect_quietly(mode: PreviewMode) -> Protocol {
    use std::io::IsTerminal;
    if mode == PreviewMode::Off {
        return Protocol::Off;
    }
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Protocol::Blocks;
    }
    if crossterm::terminal::enable_raw_mode().is_err() {
        return Protocol::Blocks;
    }
    let protocol = detect(mode);
    // Answers arrive within a few milliseconds; a late one is read here rather than echoed.
    while crossterm::event::poll(std::time::Duration::from_millis(100)).unwrap_or(false) {
        if crossterm::event::read().is_err() {
            break;
        }
    }
    let _ = crossterm::terminal::disable_raw_mode();
    protocol
}

/// viuer's settings for a protocol: only that protocol is used, so viuer asks nothing.
pub fn viuer_config(protocol: Protocol) -> viuer::Config {
    viuer::Config {
        use_kitty: protocol == Protocol::Kitty,
        use_iterm: protocol == Protocol::Iterm,
        use_sixel: protocol == Protocol::Sixel,
        ..Default::default()
    }
}

pub struct Painter {
    protocol: Protocol,
    /// What is on the screen now: the image's path and the rectangle it was painted for.
    shown: Option<(PathBuf, Rect)>,
}

impl Painter {
    pub fn new(protocol: Protocol) -> Self {
        Self {
            protocol,
            shown: None,
        }
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The screen was cleared: nothing is painted any more.
    pub fn forget(&mut self) {
        self.shown = None;
    }

    /// Whether `path` is painted in `rect` already.
    pub fn shows(&self, path: &Path, rect: Rect) -> bool {
        self.shown
            .as_ref()
            .is_some_and(|(p, r)| p == path && *r == rect)
    }

    /// Paints `image` (already fitted to `rect` by the preview worker) centred in `rect`.
    pub fn paint(
        &mut self,
        out: &mut impl Write,
        rect: Rect,
        path: &Path,
        image: &DynamicImage,
    ) -> std::io::Result<()> {
        if self.protocol == Protocol::Off {
            return Ok(());
        }
        let cell = self.protocol.cell_px();
        let cols = (image.width().div_ceil(cell.0) as u16).clamp(1, rect.width);
        let rows = (image.height().div_ceil(cell.1) as u16).clamp(1, rect.height);
        let x = rect.x + (rect.width - cols) / 2;
        let y = rect.y + (rect.height - rows) / 2;
        self.clear(out, rect, Some(Rect::new(x, y, cols, rows)))?;
        let config = viuer::Config {
            absolute_offset: true,
            x,
            y: y as i16,
            width: Some(u32::from(cols)),
            height: Some(u32::from(rows)),
            restore_cursor: true,
            transparent: false,
            ..viuer_config(self.protocol)
        };
        viuer::print(image, &config).map_err(std::io::Error::other)?;
        self.shown = Some((path.to_path_buf(), rect));
        Ok(())
    }

    /// Blanks `rect` (an image that cannot be shown).
    pub fn blank(&mut self, out: &mut impl Write, rect: Rect, path: &Path) -> std::io::Result<()> {
        self.clear(out, rect, None)?;
        self.shown = Some((path.to_path_buf(), rect));
        Ok(())
    }

    /// Removes what was painted: the cells of `rect` outside `keep` (where the next image goes,
    /// so it replaces the last one without a blank frame) are blanked, and a kitty image, which
    /// floats above the text, is deleted.
    fn clear(&self, out: &mut impl Write, rect: Rect, keep: Option<Rect>) -> std::io::Result<()> {
        if self.protocol == Protocol::Kitty {
            out.write_all(KITTY_DELETE_ALL.as_bytes())?;
        }
        queue!(out, ResetColor)?;
        let keep = keep.unwrap_or_default();
        for row in rect.top()..rect.bottom() {
            if row < keep.top() || row >= keep.bottom() {
                queue!(out, MoveTo(rect.x, row))?;
                write!(out, "{:w$}", "", w = rect.width as usize)?;
                continue;
            }
            if keep.left() > rect.left() {
                queue!(out, MoveTo(rect.x, row))?;
                write!(out, "{:w$}", "", w = (keep.left() - rect.left()) as usize)?;
            }
            if keep.right() < rect.right() {
                queue!(out, MoveTo(keep.right(), row))?;
                write!(out, "{:w$}", "", w = (rect.right() - keep.right()) as usize)?;
            }
        }
        out.flush()
    }
}

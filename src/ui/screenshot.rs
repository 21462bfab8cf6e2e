//! The README's picture of the explorer: the bundled sample, driven to a trait history, drawn on
//! a `TestBackend` with the dark theme and written as SVG.
//!
//! Regenerate it when the screens change:
//! `cargo test --lib ui::screenshot -- --ignored` (writes `assets/explorer.svg`).

use std::fmt::Write;

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

use super::app::{App, Message};
use super::keymap::Keymap;
use super::status::LoadState;
use super::testdata::Harness;
use super::theme::Theme;

const CELL_W: f32 = 8.4;
const CELL_H: f32 = 17.0;
const BACKGROUND: &str = "#1b1d23";
const FOREGROUND: &str = "#d5d8de";

/// A terminal palette for the 16 named colours (close to common dark terminal themes).
fn rgb(color: Color, fallback: &str) -> String {
    let named = match color {
        Color::Reset => return fallback.to_string(),
        Color::Black => "#1b1d23",
        Color::Red => "#e06c75",
        Color::Green => "#98c379",
        Color::Yellow => "#e5c07b",
        Color::Blue => "#61afef",
        Color::Magenta => "#c678dd",
        Color::Cyan => "#56b6c2",
        Color::Gray => "#abb2bf",
        Color::DarkGray => "#5c6370",
        Color::LightRed => "#ef8891",
        Color::LightGreen => "#b5e08f",
        Color::LightYellow => "#f0d197",
        Color::LightBlue => "#8cc8f7",
        Color::LightMagenta => "#d99af0",
        Color::LightCyan => "#7fd0d9",
        Color::White => "#e6e9ef",
        Color::Rgb(r, g, b) => return format!("#{r:02x}{g:02x}{b:02x}"),
        Color::Indexed(i) => return indexed(i),
    };
    named.to_string()
}

/// The xterm 256-colour cube and grey ramp.
fn indexed(i: u8) -> String {
    match i {
        0..=15 => rgb(
            [
                Color::Black,
                Color::Red,
                Color::Green,
                Color::Yellow,
                Color::Blue,
                Color::Magenta,
                Color::Cyan,
                Color::Gray,
                Color::DarkGray,
                Color::LightRed,
                Color::LightGreen,
                Color::LightYellow,
                Color::LightBlue,
                Color::LightMagenta,
                Color::LightCyan,
                Color::White,
            ][i as usize],
            FOREGROUND,
        ),
        16..=231 => {
            let v = i - 16;
            let level = |x: u8| if x == 0 { 0 } else { 55 + x * 40 };
            format!(
                "#{:02x}{:02x}{:02x}",
                level(v / 36),
                level(v / 6 % 6),
                level(v % 6)
            )
        }
        _ => {
            let g = 8 + (i - 232) * 10;
            format!("#{g:02x}{g:02x}{g:02x}")
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders a buffer as an SVG picture of a terminal.
pub fn buffer_to_svg(buffer: &Buffer) -> String {
    let area = buffer.area;
    let (w, h) = (
        f32::from(area.width) * CELL_W + 20.0,
        f32::from(area.height) * CELL_H + 20.0,
    );
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="100%" height="100%" rx="6" fill="{BACKGROUND}"/>"#
    );
    for y in 0..area.height {
        let mut x = 0;
        while x < area.width {
            let cell = &buffer[(x, y)];
            let reversed = cell.modifier.contains(Modifier::REVERSED);
            let (mut fg, mut bg) = (rgb(cell.fg, FOREGROUND), rgb(cell.bg, BACKGROUND));
            if reversed {
                std::mem::swap(&mut fg, &mut bg);
            }
            let px = 10.0 + f32::from(x) * CELL_W;
            let py = 10.0 + f32::from(y) * CELL_H;
            let width = unicode_width(cell.symbol());
            if bg != BACKGROUND {
                let _ = writeln!(
                    out,
                    r#"<rect x="{px}" y="{py}" width="{}" height="{CELL_H}" fill="{bg}"/>"#,
                    CELL_W * width as f32
                );
            }
            let symbol = cell.symbol();
            if !symbol.trim().is_empty() {
                let weight = if cell.modifier.contains(Modifier::BOLD) {
                    r#" font-weight="bold""#
                } else {
                    ""
                };
                let underline = if cell.modifier.contains(Modifier::UNDERLINED) {
                    r#" text-decoration="underline""#
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    r#"<text x="{px}" y="{}" fill="{fg}"{weight}{underline}>{}</text>"#,
                    py + CELL_H - 4.0,
                    escape(symbol)
                );
            }
            x += width.max(1) as u16;
        }
    }
    out.push_str("</svg>\n");
    out
}

/// Terminal columns of a cell's symbol (wide CJK and emoji take two).
fn unicode_width(s: &str) -> usize {
    ratatui::text::Span::raw(s).width().max(1)
}

#[test]
#[ignore = "writes assets/explorer.svg; run by hand when the screens change"]
fn write_readme_screenshot() {
    // Tests run in the crate root, so the path reads as in the README's command.
    let mut h = Harness::new(LoadState::Loading(None));
    h.app = App::new(
        LoadState::Loading(None),
        Keymap::default(),
        Theme::dark(),
        &[],
    );
    h.terminal =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 32)).expect("backend");
    let model = crate::source::load(
        &[std::path::PathBuf::from("assets/sample.jsonl")],
        &crate::source::LoadOptions::default(),
        &mut |_| {},
    )
    .expect("sample");
    h.send(Message::Loaded(Box::new(Ok(model.into()))));
    // Brightwave → Traits → plan: the plan's upgrade history.
    h.keys("enter j j enter j j j j j j j j j j j");
    let text = h.screen();
    assert!(text.contains("pro → enterprise"), "{text}");
    let svg = buffer_to_svg(h.terminal.backend().buffer());
    std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/assets/explorer.svg"),
        svg,
    )
    .expect("write svg");
    std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/explorer.txt"),
        text,
    )
    .expect("write text");
}

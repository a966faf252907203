//! Bar charts of the steering page, drawn on the server as inline SVG
//! (issue 8: "charts rendered server-side, no external CDN"). Each chart is
//! an image with a text alternative (`role="img"`, `<title>`,
//! `aria-labelledby`); the page shows the same figures in a table. A
//! suppressed figure is drawn as an empty outlined bar labelled `< n`.

use std::fmt::Write as _;

use super::Figure;

/// Chart width in SVG units.
const WIDTH: u32 = 640;
/// Height of the bar area.
const PLOT: u32 = 160;
/// Space under the bars for the labels.
const LABELS: u32 = 40;
/// Bar colour: contrast 7.6:1 on white.
const BAR: &str = "#0b4fa6";
/// Text colour.
const TEXT: &str = "#1e1e1e";

/// Escapes text for XML content and attribute values.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// An SVG bar chart of `bars` (label, figure), titled `title`; `id` makes
/// the title's id unique in the page; `min_count` is the threshold shown on
/// suppressed bars.
pub fn bars(id: &str, title: &str, bars: &[(String, Figure)], min_count: u64) -> String {
    let max = bars
        .iter()
        .filter_map(|(_, figure)| figure.value)
        .max()
        .unwrap_or(0)
        .max(min_count)
        .max(1);
    let count = u32::try_from(bars.len()).unwrap_or(u32::MAX).max(1);
    let step = WIDTH / count;
    let bar_width = step.saturating_sub(2).max(1);
    let id = escape(id);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-labelledby=\"{id}\" \
         viewBox=\"0 0 {WIDTH} {}\" width=\"100%\" font-size=\"11\" fill=\"{TEXT}\">\
         <title id=\"{id}\">{}</title>",
        PLOT + LABELS,
        escape(title)
    );
    let label_every = (count / 16).max(1);
    for (index, (label, figure)) in (0u32..).zip(bars) {
        let x = index * step;
        match figure.value {
            Some(value) => {
                let height = u32::try_from(u64::from(PLOT - 14) * value / max).unwrap_or(PLOT);
                let y = PLOT - height;
                let _ = write!(
                    svg,
                    "<rect x=\"{x}\" y=\"{y}\" width=\"{bar_width}\" height=\"{height}\" fill=\"{BAR}\"/>"
                );
            }
            None => {
                let height = u32::try_from(u64::from(PLOT - 14) * min_count / max).unwrap_or(PLOT);
                let y = PLOT - height;
                let _ = write!(
                    svg,
                    "<rect x=\"{x}\" y=\"{y}\" width=\"{bar_width}\" height=\"{height}\" fill=\"none\" \
                     stroke=\"{BAR}\" stroke-dasharray=\"3 2\"/><text x=\"{x}\" y=\"{}\">&lt; {min_count}</text>",
                    y.saturating_sub(2)
                );
            }
        }
        if index % label_every == 0 {
            let _ = write!(
                svg,
                "<text x=\"{x}\" y=\"{}\">{}</text>",
                PLOT + 14,
                escape(label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_has_a_text_alternative_and_escapes_labels() {
        let svg = bars(
            "jours",
            "Connexions par jour",
            &[
                (
                    "<b>lundi</b>".into(),
                    Figure {
                        value: Some(12),
                        suppressed: false,
                    },
                ),
                (
                    "mardi".into(),
                    Figure {
                        value: None,
                        suppressed: true,
                    },
                ),
            ],
            5,
        );
        assert!(svg.starts_with("<svg "));
        assert!(svg.contains("role=\"img\" aria-labelledby=\"jours\""));
        assert!(svg.contains("<title id=\"jours\">Connexions par jour</title>"));
        assert!(svg.contains("&lt;b&gt;lundi"));
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("&lt; 5"));
        assert_eq!(svg.matches("<rect").count(), 2);
    }
}

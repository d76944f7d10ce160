//! The figure type every chart builder returns (model and timelines alike).

/// One SVG: inline in the HTML, a file beside report.md.
#[derive(Debug, Clone)]
pub struct Figure {
    pub file: String,
    pub caption: String,
    pub svg: String,
}

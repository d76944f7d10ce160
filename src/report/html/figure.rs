//! The figure type every chart builder returns (model and timelines alike).

/// One SVG: inline in the HTML, a file beside report.md.
#[derive(Debug, Clone)]
pub struct Figure {
    pub file: String,
    pub caption: String,
    pub svg: String,
}

impl Figure {
    /// The caption as HTML that breaks only between words.
    pub fn caption_html(&self) -> String {
        super::text::words(&self.caption)
    }
}

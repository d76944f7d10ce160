//! Text for the HTML page that breaks only between words. Browsers break a
//! line after a hyphen, a dash or a slash, which cut `q=5e-4` into `q=5e-` /
//! `4` and ratios' intervals at their dash; so every token holding such a
//! character is kept whole (`white-space: nowrap` on a span), and a URL may
//! break only after a `/` (a `<wbr>` there), never inside a path segment.
//! Output is escaped HTML, for the template's `|safe`.

use std::fmt::Write as _;

/// HTML-escape `s` (the characters askama escapes, the same way).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&#38;"),
            '<' => out.push_str("&#60;"),
            '>' => out.push_str("&#62;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One token: plain when it is letters and digits only, a URL broken only
/// after its slashes, anything else kept on one line.
fn token(out: &mut String, t: &str) {
    if t.chars().all(char::is_alphanumeric) {
        out.push_str(&escape(t));
        return;
    }
    if let Some(scheme_end) = t.find("://") {
        // `https://host/` stays one piece, then a break chance after each `/`.
        let mut rest = t;
        let mut first = true;
        let mut cut = scheme_end + 3;
        while !rest.is_empty() {
            let end = rest[cut.min(rest.len())..]
                .find('/')
                .map_or(rest.len(), |i| cut + i + 1);
            if !first {
                out.push_str("<wbr>");
            }
            let _ = write!(out, "<span class=\"nb\">{}</span>", escape(&rest[..end]));
            rest = &rest[end..];
            first = false;
            cut = 0;
        }
        return;
    }
    let _ = write!(out, "<span class=\"nb\">{}</span>", escape(t));
}

/// `s` as escaped HTML whose lines break only at spaces (and after a URL's
/// slashes); runs of spaces are kept as they are.
pub fn words(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 2);
    for (i, t) in s.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        token(&mut out, t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_with_breakable_characters_stay_whole() {
        assert_eq!(words("ratio"), "ratio");
        assert_eq!(
            words("0.0013 [0.0012–0.0021] (steady, q=5e-4)"),
            "<span class=\"nb\">0.0013</span> <span class=\"nb\">[0.0012–0.0021]</span> \
             <span class=\"nb\">(steady,</span> <span class=\"nb\">q=5e-4)</span>"
        );
        assert_eq!(
            words("https://pbs.twimg.com/image/2000000.jpg"),
            "<span class=\"nb\">https://pbs.twimg.com/</span><wbr><span class=\"nb\">image/</span>\
             <wbr><span class=\"nb\">2000000.jpg</span>"
        );
        assert_eq!(words("<b>&"), "<span class=\"nb\">&#60;b&#62;&#38;</span>");
        // The text survives: tags removed, entities decoded.
        let s = "a https://x.example/a/b?q=1 — 5e-4, <i>";
        let back = words(s)
            .replace("<span class=\"nb\">", "")
            .replace("</span>", "")
            .replace("<wbr>", "")
            .replace("&#60;", "<")
            .replace("&#62;", ">");
        assert_eq!(back, s);
    }
}

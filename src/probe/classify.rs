//! Deciding a URL's content class when the campaign does not say.

use crate::types::Class;

/// From the response Content-Type, else the URL path's extension.
pub fn infer(content_type: Option<&str>, path: &str) -> Class {
    content_type
        .and_then(from_content_type)
        .or_else(|| from_extension(path))
        .unwrap_or(Class::Other)
}

fn from_content_type(ct: &str) -> Option<Class> {
    let mime = ct.split(';').next()?.trim().to_ascii_lowercase();
    let (top, sub) = mime.split_once('/')?;
    match top {
        "text" => Some(Class::Text),
        "image" => Some(Class::Image),
        "video" => Some(Class::Video),
        "audio" => Some(Class::Audio),
        "application"
            if sub.contains("json") || sub.contains("javascript") || sub.contains("xml") =>
        {
            Some(Class::Text)
        }
        "application" if sub == "vnd.apple.mpegurl" || sub == "dash+xml" => Some(Class::Video),
        _ => None,
    }
}

fn from_extension(path: &str) -> Option<Class> {
    let last = path.rsplit('/').next()?;
    let ext = last.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "html" | "htm" | "txt" | "json" | "js" | "css" | "xml" => Class::Text,
        "jpg" | "jpeg" | "png" | "gif" | "webp" | "avif" | "svg" => Class::Image,
        "mp4" | "webm" | "m4v" | "mov" | "ts" | "m3u8" | "mpd" => Class::Video,
        "mp3" | "m4a" | "ogg" | "opus" | "wav" | "aac" => Class::Audio,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_wins_over_extension() {
        assert_eq!(infer(Some("image/jpeg"), "/a.mp4"), Class::Image);
        assert_eq!(
            infer(Some("application/json; charset=utf-8"), "/x"),
            Class::Text
        );
        assert_eq!(infer(None, "/media/photo.JPG"), Class::Image);
        assert_eq!(
            infer(Some("application/octet-stream"), "/v.mp4"),
            Class::Video
        );
        assert_eq!(infer(None, "/"), Class::Other);
    }
}

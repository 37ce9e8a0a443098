//! Excerpts of very long source lines for rendered diagnostics: a line longer than
//! [`MAX_EXCERPT_LINE`] bytes is shown as windows around the labels on it, joined by `…`, so a 5 MB
//! one-line file is not echoed in full. Line and column numbers stay those of the real file.

use std::ops::Range;

use codespan_reporting::files::{Error as FilesError, Files, Location, line_starts};

use crate::diagnostic::{Diagnostic, FileId, SourceSet, Span};

/// The longest line shown in full, in bytes.
pub const MAX_EXCERPT_LINE: usize = 240;

/// Bytes kept on each side of a label's start and end in a cut line.
const CONTEXT: usize = 60;

/// Marks text left out of a cut line.
const ELLIPSIS: &str = "…";

/// The files of a [`SourceSet`] as one diagnostic's excerpts show them.
pub(crate) struct Excerpts<'s> {
    sources: &'s SourceSet,
    /// A cut copy of each file with a long line under a label; `None` shows the file as it is.
    views: Vec<Option<CutFile>>,
}

/// A file with its long lines cut.
struct CutFile {
    text: String,
    line_starts: Vec<usize>,
    /// The pieces copied from the original, in order: (start in `text`, start in the original, length).
    pieces: Vec<(usize, usize, usize)>,
}

impl<'s> Excerpts<'s> {
    /// Excerpts for `diagnostic`'s labels.
    pub(crate) fn new(sources: &'s SourceSet, diagnostic: &Diagnostic) -> Excerpts<'s> {
        let mut views: Vec<Option<CutFile>> = sources.ids().map(|_| None).collect();
        for (index, slot) in views.iter_mut().enumerate() {
            let file = FileId(index as u32);
            let text = sources.text(file);
            let points: Vec<usize> = diagnostic
                .labels
                .iter()
                .filter(|(span, _)| span.file == file)
                .flat_map(|(span, _)| [span.start as usize, span.end as usize])
                .map(|point| point.min(text.len()))
                .collect();
            if !points.is_empty() && has_long_line(text) {
                *slot = Some(CutFile::new(text, &points));
            }
        }
        Excerpts { sources, views }
    }

    /// `span`'s byte range in the file as shown.
    pub(crate) fn range(&self, span: Span) -> Range<usize> {
        let length = self.sources.text(span.file).len();
        let (start, end) = ((span.start as usize).min(length), (span.end as usize).min(length));
        match self.view(span.file) {
            Some(cut) => cut.to_view(start)..cut.to_view(end.max(start)),
            None => start..end.max(start),
        }
    }

    fn view(&self, file: FileId) -> Option<&CutFile> {
        self.views.get(file.0 as usize).and_then(Option::as_ref)
    }

    fn text(&self, id: usize) -> &str {
        match self.view(FileId(id as u32)) {
            Some(cut) => &cut.text,
            None => self.sources.text(FileId(id as u32)),
        }
    }
}

/// The longest piece of source (a token, a name) quoted whole in a message, in characters.
const MAX_QUOTED: usize = 60;

/// `text` for quoting in a message: whole when short, else its first characters and `…`.
pub(crate) fn quoted(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(MAX_QUOTED) {
        None => std::borrow::Cow::Borrowed(text),
        Some((cut, _)) => std::borrow::Cow::Owned(format!("{}{ELLIPSIS}", &text[..cut])),
    }
}

fn has_long_line(text: &str) -> bool {
    text.split('\n').any(|line| line.len() > MAX_EXCERPT_LINE)
}

impl CutFile {
    fn new(text: &str, points: &[usize]) -> CutFile {
        let mut cut = CutFile { text: String::new(), line_starts: Vec::new(), pieces: Vec::new() };
        let mut line_start = 0;
        for line in text.split_inclusive('\n') {
            let content = line.strip_suffix('\n').unwrap_or(line);
            let line_end = line_start + content.len();
            if content.len() <= MAX_EXCERPT_LINE {
                cut.copy(text, line_start..line_start + line.len());
            } else {
                let windows = windows(text, line_start..line_end, points);
                let mut shown_to = line_start;
                for window in windows {
                    if window.start > shown_to {
                        cut.text.push_str(ELLIPSIS);
                    }
                    shown_to = window.end;
                    cut.copy(text, window);
                }
                if shown_to < line_end {
                    cut.text.push_str(ELLIPSIS);
                }
                cut.copy(text, line_end..line_start + line.len());
            }
            line_start += line.len();
        }
        cut.line_starts = line_starts(&cut.text).collect();
        cut
    }

    fn copy(&mut self, text: &str, range: Range<usize>) {
        if range.is_empty() {
            return;
        }
        self.pieces.push((self.text.len(), range.start, range.len()));
        self.text.push_str(&text[range]);
    }

    /// Where an original offset is shown (a left-out one: where the text after it resumes).
    fn to_view(&self, original: usize) -> usize {
        for &(view, start, length) in &self.pieces {
            if original < start {
                return view;
            }
            if original <= start + length {
                return view + (original - start);
            }
        }
        self.text.len()
    }

    /// The original offset of a shown one (inside an ellipsis: where the text after it resumes).
    fn to_original(&self, shown: usize) -> usize {
        for &(view, start, length) in &self.pieces {
            if shown < view {
                return start;
            }
            if shown <= view + length {
                return start + (shown - view);
            }
        }
        self.pieces.last().map_or(0, |&(_, start, length)| start + length)
    }
}

/// The windows of `line` to show: `CONTEXT` bytes around each point on it, merged, on character
/// boundaries; the line's start when no point is on it.
fn windows(text: &str, line: Range<usize>, points: &[usize]) -> Vec<Range<usize>> {
    let mut windows: Vec<Range<usize>> = points
        .iter()
        .filter(|&&point| line.contains(&point) || point == line.end)
        .map(|&point| point.saturating_sub(CONTEXT).max(line.start)..(point + CONTEXT).min(line.end))
        .collect();
    if windows.is_empty() {
        windows.push(line.start..line.start + MAX_EXCERPT_LINE);
    }
    windows.sort_by_key(|window| window.start);
    let mut merged: Vec<Range<usize>> = Vec::new();
    for window in windows {
        let start = floor_boundary(text, window.start);
        let end = ceil_boundary(text, window.end);
        match merged.last_mut() {
            Some(last) if start <= last.end => last.end = last.end.max(end),
            _ => merged.push(start..end),
        }
    }
    merged
}

fn floor_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn ceil_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index += 1;
    }
    index
}

impl<'a> Files<'a> for Excerpts<'_> {
    type FileId = usize;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: usize) -> Result<&'a str, FilesError> {
        Ok(self.sources.name(FileId(id as u32)))
    }

    fn source(&'a self, id: usize) -> Result<&'a str, FilesError> {
        Ok(self.text(id))
    }

    fn line_index(&'a self, id: usize, byte_index: usize) -> Result<usize, FilesError> {
        match self.view(FileId(id as u32)) {
            Some(cut) => Ok(cut.line_starts.partition_point(|&start| start <= byte_index).saturating_sub(1)),
            None => self.sources.files().line_index(id, byte_index),
        }
    }

    fn line_range(&'a self, id: usize, line_index: usize) -> Result<Range<usize>, FilesError> {
        let Some(cut) = self.view(FileId(id as u32)) else {
            return self.sources.files().line_range(id, line_index);
        };
        let start = *cut.line_starts.get(line_index).ok_or(FilesError::LineTooLarge {
            given: line_index,
            max: cut.line_starts.len().saturating_sub(1),
        })?;
        let end = cut.line_starts.get(line_index + 1).copied().unwrap_or(cut.text.len());
        Ok(start..end)
    }

    /// The real file's line and column, also for a cut line.
    fn location(&'a self, id: usize, byte_index: usize) -> Result<Location, FilesError> {
        let file = FileId(id as u32);
        let original = match self.view(file) {
            Some(cut) => cut.to_original(byte_index),
            None => byte_index,
        };
        let (line_number, column_number) = self.sources.line_column(file, original as u32);
        Ok(Location { line_number, column_number })
    }
}

#[cfg(test)]
mod tests {
    use super::MAX_EXCERPT_LINE;
    use crate::diagnostic::{Diagnostic, SourceSet, Span, render_to_string};

    fn render(text: String, labels: &[(usize, usize)]) -> String {
        let mut sources = SourceSet::new();
        let file = sources.add("long.tile", text);
        let mut diagnostic = Diagnostic::error("a problem");
        for &(start, end) in labels {
            diagnostic = diagnostic.with_label(Span::new(file, start, end), "here");
        }
        render_to_string(&[diagnostic], &sources)
    }

    #[test]
    fn a_five_megabyte_line_is_cut_around_the_label_and_keeps_its_position() {
        let prefix = format!("kernel k() threads(32) {{{}", " ".repeat(5_000_000));
        let text = format!("{prefix}let a = missing; }}\nkernel j() {{ }}\n");
        let start = prefix.len() + "let a = ".len();
        let rendered = render(text, &[(start, start + "missing".len())]);
        assert!(rendered.len() < 2_000, "{} bytes rendered", rendered.len());
        assert!(rendered.contains(&format!("long.tile:1:{}", start + 1)), "{rendered}");
        assert!(rendered.contains("let a = missing; }"), "{rendered}");
        assert!(rendered.contains("…"), "{rendered}");
        assert!(rendered.contains("^^^^^^^"), "{rendered}");
    }

    #[test]
    fn cuts_fall_on_character_boundaries_and_short_lines_stay_whole() {
        // Multi-byte characters everywhere: every window edge must be moved to a boundary.
        let line = "é".repeat(300) + "x" + &"ü".repeat(300);
        let x = 600;
        let rendered = render(format!("{line}\nshort line\n"), &[(x, x + 1)]);
        assert!(rendered.contains("long.tile:1:301"), "{rendered}");
        assert!(rendered.lines().all(|row| row.len() < MAX_EXCERPT_LINE), "{rendered}");
        let short = render("let x = 1;\nlet y = z;\n".to_string(), &[(19, 20)]);
        assert!(short.contains("let y = z;") && !short.contains("…"), "{short}");
    }

    #[test]
    fn two_labels_far_apart_on_one_line_each_get_a_window() {
        let text = format!("aaa{}bbb{}ccc\n", "-".repeat(10_000), "-".repeat(10_000));
        let rendered = render(text, &[(0, 3), (10_003, 10_006)]);
        assert!(
            rendered.contains("aaa") && rendered.contains("bbb") && !rendered.contains("ccc"),
            "{rendered}"
        );
        assert!(rendered.len() < 2_000, "{rendered}");
    }

    #[test]
    fn long_quotes_are_shortened() {
        assert_eq!(super::quoted("short"), "short");
        let long = "é".repeat(100);
        assert_eq!(super::quoted(&long), format!("{}…", "é".repeat(60)));
    }
}

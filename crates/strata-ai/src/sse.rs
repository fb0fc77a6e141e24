//! Server-sent events, read incrementally: the `data:` payloads of a byte stream, however the
//! bytes happen to be cut into chunks on the wire.

/// Holds the unfinished line between chunks.
#[derive(Debug, Default)]
pub struct DataLines {
    partial: Vec<u8>,
}

impl DataLines {
    /// Feeds bytes; calls `on_data` with each complete `data:` payload (without the prefix).
    pub fn feed(&mut self, bytes: &[u8], mut on_data: impl FnMut(&[u8])) {
        let mut rest = bytes;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            let (line, tail) = rest.split_at(i);
            rest = &tail[1..];
            if self.partial.is_empty() {
                data_of(line, &mut on_data);
            } else {
                self.partial.extend_from_slice(line);
                let line = std::mem::take(&mut self.partial);
                data_of(&line, &mut on_data);
            }
        }
        self.partial.extend_from_slice(rest);
    }
}

/// A translator of one SSE stream into another, event by event. Implementing it gives a
/// [`StreamConvert`](crate::convert::StreamConvert): bytes are split into `data:` payloads
/// however they are cut on the wire, and the end of the upstream is reported once.
pub trait EventTranslator: Send {
    /// Where the unfinished line is kept.
    fn lines(&mut self) -> &mut DataLines;
    /// One `data:` payload.
    fn on_data(&mut self, data: &[u8], out: &mut Vec<u8>);
    /// The upstream ended; a stream that did not complete must end with an error event.
    fn on_end(&mut self, out: &mut Vec<u8>);
}

impl<T: EventTranslator> crate::convert::StreamConvert for T {
    fn push(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut lines = std::mem::take(self.lines());
        lines.feed(bytes, |data| self.on_data(data, &mut out));
        *self.lines() = lines;
        out
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut out = self.push(b"\n");
        self.on_end(&mut out);
        out
    }
}

fn data_of(line: &[u8], on_data: &mut impl FnMut(&[u8])) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if let Some(data) = line.strip_prefix(b"data:") {
        on_data(data.trim_ascii_start());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_survive_any_cut() {
        let input = b"event: x\r\ndata: {\"a\":1}\r\n\r\n: comment\ndata:[DONE]\n\n";
        for cut in 1..input.len() {
            let mut lines = DataLines::default();
            let mut seen = Vec::new();
            for chunk in input.chunks(cut) {
                lines.feed(chunk, |d| {
                    seen.push(String::from_utf8_lossy(d).into_owned())
                });
            }
            assert_eq!(seen, ["{\"a\":1}", "[DONE]"], "cut {cut}");
        }
    }
}

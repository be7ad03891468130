//! The CRI log file format: `<RFC3339Nano> <stdout|stderr> <F|P> <msg>` records, and the
//! assembly of partial (`P`) records into whole lines.

/// Which output stream a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One record of a CRI log file, borrowed from the file's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// The timestamp as written, e.g. `2024-05-01T10:00:00.123456789Z`.
    pub time: &'a str,
    /// The timestamp in nanoseconds since the Unix epoch.
    pub nanos: i128,
    pub stream: Stream,
    /// `P`: the message continues in the next record of the same stream.
    pub partial: bool,
    /// The message without the record's trailing newline.
    pub msg: &'a [u8],
}

/// A whole line of output: one `F` record, or `P` records joined with the `F` that ends them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The timestamp of the line's first record, as written.
    pub time: String,
    pub nanos: i128,
    pub stream: Stream,
    /// The message, ending in `\n` when the line is complete.
    pub bytes: Vec<u8>,
}

/// Parses one record (without its trailing newline). `None` for a malformed record.
pub fn parse_record(line: &[u8]) -> Option<Record<'_>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.splitn(4, |b| *b == b' ');
    let time = std::str::from_utf8(parts.next()?).ok()?;
    let stream = match parts.next()? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    let partial = match parts.next()? {
        b"F" => false,
        b"P" => true,
        _ => return None,
    };
    let msg = parts.next().unwrap_or(b"");
    Some(Record {
        time,
        nanos: parse_time(time)?,
        stream,
        partial,
        msg,
    })
}

/// Parses an RFC 3339 timestamp with an optional fraction of any length (`Z` or `±hh:mm`) into
/// nanoseconds since the Unix epoch.
pub fn parse_time(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let digits = s.get(from..to)?;
        if !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos: i128 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let len = frac.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        for (i, c) in frac.bytes().take(len).enumerate() {
            if i < 9 {
                nanos = nanos * 10 + i128::from(c - b'0');
            }
        }
        for _ in len..9 {
            nanos *= 10;
        }
        rest = &frac[len..];
    }
    let offset_secs: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let r = rest.as_bytes();
            if r.len() != 6 || r[3] != b':' {
                return None;
            }
            let sign = match r[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs;
    Some(i128::from(secs) * 1_000_000_000 + nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Joins records into lines; partial records wait (per stream) for the record that ends them.
#[derive(Debug, Default)]
pub struct Assembler {
    stdout: Option<Line>,
    stderr: Option<Line>,
}

impl Assembler {
    /// Adds a record; returns the line it completes, if any.
    pub fn push(&mut self, record: &Record<'_>) -> Option<Line> {
        let pending = match record.stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        let line = pending.get_or_insert_with(|| Line {
            time: record.time.to_string(),
            nanos: record.nanos,
            stream: record.stream,
            bytes: Vec::new(),
        });
        line.bytes.extend_from_slice(record.msg);
        if record.partial {
            return None;
        }
        let mut done = pending.take()?;
        done.bytes.push(b'\n');
        Some(done)
    }

    /// The lines still waiting for their end, oldest first, without a trailing newline.
    pub fn finish(self) -> Vec<Line> {
        let mut rest: Vec<Line> = [self.stdout, self.stderr].into_iter().flatten().collect();
        rest.sort_by_key(|l| l.nanos);
        rest
    }
}

/// Parses the complete records of `data` (every `\n`-terminated one) into lines. Returns the
/// number of bytes consumed: an unterminated last record stays for the next read.
pub fn parse_chunk(data: &[u8], assembler: &mut Assembler, out: &mut Vec<Line>) -> usize {
    let mut consumed = 0;
    while let Some(end) = data[consumed..].iter().position(|b| *b == b'\n') {
        let raw = &data[consumed..consumed + end];
        consumed += end + 1;
        match parse_record(raw) {
            Some(record) => out.extend(assembler.push(&record)),
            None => {
                tracing::debug!(record = %String::from_utf8_lossy(raw), "skipping a malformed log record")
            }
        }
    }
    consumed
}

/// Parses a whole log file: every record, including an unterminated last one, and the partial
/// lines left at the end.
pub fn parse_all(data: &[u8]) -> Vec<Line> {
    let mut assembler = Assembler::default();
    let mut out = Vec::new();
    let consumed = parse_chunk(data, &mut assembler, &mut out);
    if let Some(record) = parse_record(&data[consumed..]) {
        out.extend(assembler.push(&record));
    }
    out.extend(assembler.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i128 = 1_714_557_600_000_000_000; // 2024-05-01T10:00:00Z

    #[test]
    fn times() {
        let cases: &[(&str, Option<i128>)] = &[
            ("2024-05-01T10:00:00Z", Some(T0)),
            ("2024-05-01T10:00:00.5Z", Some(T0 + 500_000_000)),
            ("2024-05-01T10:00:00.123456789Z", Some(T0 + 123_456_789)),
            ("2024-05-01T10:00:00.1234567891Z", Some(T0 + 123_456_789)),
            ("2024-05-01T12:00:00.000001+02:00", Some(T0 + 1_000)),
            ("2024-05-01T08:30:00-01:30", Some(T0)),
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2000-03-01T00:00:00Z", Some(951_868_800_000_000_000)),
            ("2024-05-01T10:00:00", None),
            ("2024-05-01T10:00:00.Z", None),
            ("2024-13-01T10:00:00Z", None),
            ("2024-05-01X10:00:00Z", None),
            ("garbage", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_time(input), *want, "{input}");
        }
    }

    #[test]
    fn records() {
        let r = parse_record(b"2024-05-01T10:00:00Z stdout F hello world").expect("record");
        assert_eq!(
            (r.stream, r.partial, r.msg, r.nanos),
            (Stream::Stdout, false, &b"hello world"[..], T0)
        );
        let r = parse_record(b"2024-05-01T10:00:00Z stderr P ").expect("record");
        assert_eq!(
            (r.stream, r.partial, r.msg),
            (Stream::Stderr, true, &b""[..])
        );
        let r = parse_record(b"2024-05-01T10:00:00Z stdout F").expect("record without message");
        assert_eq!(r.msg, b"");
        for bad in [
            &b"2024-05-01T10:00:00Z stdin F x"[..],
            b"2024-05-01T10:00:00Z stdout X x",
            b"nope stdout F x",
            b"",
        ] {
            assert!(
                parse_record(bad).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn partial_records_join_per_stream() {
        let data = b"2024-05-01T10:00:00Z stdout P hel\n\
2024-05-01T10:00:01Z stderr F oops\n\
2024-05-01T10:00:02Z stdout P lo \n\
2024-05-01T10:00:03Z stdout F world\n\
2024-05-01T10:00:04Z stdout P tail";
        let lines = parse_all(data);
        let got: Vec<(&str, &[u8])> = lines
            .iter()
            .map(|l| (l.time.as_str(), l.bytes.as_slice()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("2024-05-01T10:00:01Z", &b"oops\n"[..]),
                ("2024-05-01T10:00:00Z", &b"hello world\n"[..]),
                ("2024-05-01T10:00:04Z", &b"tail"[..]),
            ]
        );
    }

    #[test]
    fn chunks_keep_an_unterminated_record() {
        let mut assembler = Assembler::default();
        let mut out = Vec::new();
        let data = b"2024-05-01T10:00:00Z stdout F a\n2024-05-01T10:00:01Z stdout F b";
        let consumed = parse_chunk(data, &mut assembler, &mut out);
        assert_eq!(consumed, 32);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].bytes, b"a\n");
    }
}

//! Event timestamps: ISO-8601 parsing that keeps the sender's UTC offset.

use std::cell::Cell;
use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// An instant in milliseconds since the Unix epoch, plus the UTC offset it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EventTime {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub utc_ms: i64,
    /// The offset east of UTC, in minutes, that the sender wrote (`+05:30` is 330).
    pub offset_min: i16,
}

impl Ord for EventTime {
    fn cmp(&self, other: &Self) -> Ordering {
        self.utc_ms.cmp(&other.utc_ms)
    }
}

impl PartialOrd for EventTime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl EventTime {
    /// A UTC instant.
    pub fn from_utc_ms(utc_ms: i64) -> Self {
        EventTime {
            utc_ms,
            offset_min: 0,
        }
    }

    /// Parses an ISO-8601 / RFC 3339 timestamp; `None` when it is not one.
    ///
    /// The common export shape (`2023-01-05T21:42:11.218Z`, or with `+05:30`) takes a fast path;
    /// anything else goes through chrono, so a date alone or a space separator also parse.
    pub fn parse(text: &str) -> Option<EventTime> {
        parse_fast(text.as_bytes())
            .or_else(|| parse_slow(text.trim()).filter(|t| four_digit_year(*t)))
    }

    /// The time as chrono sees it, in the sender's offset.
    pub fn to_datetime(self) -> Option<DateTime<FixedOffset>> {
        let offset = FixedOffset::east_opt(i32::from(self.offset_min) * 60)?;
        offset.timestamp_millis_opt(self.utc_ms).single()
    }

    /// RFC 3339 with milliseconds, in the sender's offset (`Z` for UTC).
    pub fn to_rfc3339(self) -> String {
        match self.to_datetime() {
            Some(dt) if self.offset_min == 0 => dt
                .with_timezone(&Utc)
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string(),
            Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(),
            None => format!("@{}ms", self.utc_ms),
        }
    }

    /// A short human form for tables: `2023-01-05 21:42:11` in the sender's offset, plus the
    /// offset where it is not UTC.
    pub fn to_short(self) -> String {
        match self.to_datetime() {
            Some(dt) if self.offset_min == 0 => dt.format("%Y-%m-%d %H:%M:%S").to_string(),
            Some(dt) => dt.format("%Y-%m-%d %H:%M:%S%:z").to_string(),
            None => format!("@{}ms", self.utc_ms),
        }
    }
}

impl fmt::Display for EventTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// The time fields of an event, before the processor's rules pick its `timestamp`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeFields {
    /// `timestamp`, if present and parseable.
    pub timestamp: Option<EventTime>,
    /// `receivedAt`.
    pub received_at: Option<EventTime>,
    /// `sentAt` (read only when `timestamp` is not usable, the only case it matters).
    pub sent_at: Option<EventTime>,
    /// `originalTimestamp` (read only when `timestamp` is not usable).
    pub original_timestamp: Option<EventTime>,
}

impl TimeFields {
    /// The event time as rudder-server's processor computes it (spec §2.3):
    /// `timestamp` as-is, else `receivedAt - (sentAt - originalTimestamp)`, where a missing
    /// `sentAt` or `originalTimestamp` stands in as `receivedAt`.
    ///
    /// With no `receivedAt` either, the best client time available is used. `None` only
    /// when the event carries no usable time at all.
    pub fn event_time(&self) -> Option<EventTime> {
        if let Some(ts) = self.timestamp {
            return Some(ts);
        }
        match self.received_at {
            Some(recv) => {
                let sent = self.sent_at.unwrap_or(recv);
                let orig = self.original_timestamp.unwrap_or(recv);
                let skew = sent.utc_ms.saturating_sub(orig.utc_ms);
                Some(EventTime {
                    utc_ms: recv.utc_ms.saturating_sub(skew),
                    offset_min: orig.offset_min,
                })
            }
            None => self.original_timestamp.or(self.sent_at),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)`, the shape nearly every export uses.
fn parse_fast(b: &[u8]) -> Option<EventTime> {
    parse_exact(b).or_else(|| parse_shaped(b))
}

/// [`parse_fast`] for any length of fraction and any offset.
fn parse_shaped(b: &[u8]) -> Option<EventTime> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])? as i32;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    let mut i = 19;
    let mut millis = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                millis = millis * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..3 {
            millis *= 10;
        }
    }
    let offset_min: i32 = match &b[i..] {
        [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = digits(&[*h1, *h2])? as i32;
            let m = digits(&[*m1, *m2])? as i32;
            if h > 23 || m > 59 {
                return None;
            }
            let v = h * 60 + m;
            if *sign == b'-' { -v } else { v }
        }
        _ => return None,
    };
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    let secs_of_day = i64::from(hour * 3600 + minute * 60 + second.min(59));
    let local_ms = (days * 86_400 + secs_of_day) * 1000 + i64::from(millis);
    Some(EventTime {
        utc_ms: local_ms - i64::from(offset_min) * 60_000,
        offset_min: offset_min as i16,
    })
}

/// `YYYY-MM-DDTHH:MM:SS.fffZ` exactly, what the SDKs and the gateway write (two of them on
/// every event): fixed positions, every digit checked in one go, no loops.
#[inline]
fn parse_exact(b: &[u8]) -> Option<EventTime> {
    let b: &[u8; 24] = b.try_into().ok()?;
    // `| 0x20` folds `Z` onto `z` (and no other byte onto it).
    if b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] | 0x20 != b'z'
    {
        return None;
    }
    let d = |i: usize| b[i].wrapping_sub(b'0');
    const DIGITS: [usize; 17] = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22];
    if DIGITS.iter().fold(0u8, |worst, &i| worst.max(d(i))) > 9 {
        return None;
    }
    let two = |i: usize| u32::from(d(i)) * 10 + u32::from(d(i + 1));
    let (hour, minute, second) = (two(11), two(14), two(17));
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_of_date(two(0) * 100 + two(2), two(5), two(8))?;
    let secs_of_day = i64::from(hour * 3600 + minute * 60 + second.min(59));
    let millis = u32::from(d(20)) * 100 + two(21);
    Some(EventTime {
        utc_ms: (days * 86_400 + secs_of_day) * 1000 + i64::from(millis),
        offset_min: 0,
    })
}

/// [`days_from_civil`] remembering the last date asked for on this thread: an export's events
/// come in time order, so nearly every timestamp falls on the date of the one before.
#[inline]
fn days_of_date(year: u32, month: u32, day: u32) -> Option<i64> {
    thread_local! {
        /// The last date that exists (as `yyyymmdd`) and its days; `u32::MAX` is no date.
        static LAST: Cell<(u32, i64)> = const { Cell::new((u32::MAX, 0)) };
    }
    // Fields of at most 4, 2 and 2 decimal digits, so the key is unique.
    let key = year * 10_000 + month * 100 + day;
    let (last, days) = LAST.get();
    if key == last {
        return Some(days);
    }
    let days = days_from_civil(year as i32, month, day)?;
    LAST.set((key, days));
    Some(days)
}

/// Days since 1970-01-01 of a proleptic Gregorian date, `None` when the date does not exist
/// (Howard Hinnant's `days_from_civil`; chrono's date types cost ten times more per call).
fn days_from_civil(year: i32, month: u32, day: u32) -> Option<i64> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > month_days {
        return None;
    }
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Other ISO-8601 shapes: offsets without a colon, a space instead of `T`, no zone (taken as
/// UTC), a bare date.
fn parse_slow(text: &str) -> Option<EventTime> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(from_fixed(dt));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(dt) = DateTime::parse_from_str(text, fmt) {
            return Some(from_fixed(dt));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, fmt) {
            return Some(EventTime::from_utc_ms(naive.and_utc().timestamp_millis()));
        }
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let naive = date.and_hms_opt(0, 0, 0)?;
    Some(EventTime::from_utc_ms(naive.and_utc().timestamp_millis()))
}

/// Whether the time prints with a four-digit year, as RFC 3339 requires: chrono also reads
/// `-9999-12-3` or `+10000-01-01`, which would print as text that parses as nothing. (The fast
/// path reads exactly four digits.)
fn four_digit_year(t: EventTime) -> bool {
    use chrono::Datelike;
    t.to_datetime()
        .is_some_and(|d| (0..=9999).contains(&d.year()))
}

fn from_fixed(dt: DateTime<FixedOffset>) -> EventTime {
    EventTime {
        utc_ms: dt.timestamp_millis(),
        offset_min: (dt.offset().local_minus_utc() / 60) as i16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utc_with_millis() {
        let t = EventTime::parse("2023-01-05T21:42:11.218Z").unwrap();
        assert_eq!(t.utc_ms, 1_672_954_931_218);
        assert_eq!(t.offset_min, 0);
        assert_eq!(t.to_rfc3339(), "2023-01-05T21:42:11.218Z");
    }

    #[test]
    fn keeps_the_senders_offset() {
        let t = EventTime::parse("2023-01-06T03:12:11.218+05:30").unwrap();
        assert_eq!(t.utc_ms, 1_672_954_931_218);
        assert_eq!(t.offset_min, 330);
        assert_eq!(t.to_rfc3339(), "2023-01-06T03:12:11.218+05:30");
        let west = EventTime::parse("2023-01-05T13:42:11.218-08:00").unwrap();
        assert_eq!(west.utc_ms, t.utc_ms);
        assert_eq!(west.offset_min, -480);
    }

    #[test]
    fn fast_and_slow_paths_agree() {
        for s in [
            "2024-02-29T23:59:59.999Z",
            "1999-12-31T00:00:00Z",
            "2023-06-01T12:00:00.123456+02:00",
            "2023-06-01T12:00:00.1-02:00",
        ] {
            let fast = parse_fast(s.as_bytes()).unwrap();
            let slow = parse_slow(s).unwrap();
            assert_eq!(fast, slow, "{s}");
        }
    }

    #[test]
    fn the_exact_shape_reads_as_the_general_one() {
        let mut cases = vec![
            "2024-02-29T23:59:59.999Z".to_owned(),
            "2023-02-29T10:00:00.000Z".to_owned(),
            "2023-01-01T00:00:60.500z".to_owned(),
            "2023-13-01T00:00:00.000Z".to_owned(),
            "2023-01-01T24:00:00.000Z".to_owned(),
            "2023-01-01T23:60:00.000Z".to_owned(),
            "0000-01-01T00:00:00.000Z".to_owned(),
            "9999-12-31T23:59:59.999Z".to_owned(),
            "2023-01-01T00:00:00.000+".to_owned(),
        ];
        // Each byte of a good one replaced by each of a few others: digits, separators, junk.
        let good = "2023-06-15T12:34:56.789Z";
        for i in 0..good.len() {
            for c in [b'0', b'9', b'/', b':', b'A', b'z', b'-', b'.', b' ', 0x7f] {
                let mut s = good.as_bytes().to_vec();
                s[i] = c;
                cases.push(String::from_utf8(s).unwrap());
            }
        }
        for s in &cases {
            let exact = parse_exact(s.as_bytes());
            let general = parse_shaped(s.as_bytes());
            if exact.is_some() {
                assert_eq!(exact, general, "{s}");
            } else if s.len() == 24 && s.ends_with(['Z', 'z']) && s.as_bytes()[19] == b'.' {
                assert_eq!(general, None, "{s}");
            }
        }
        assert!(parse_exact(good.as_bytes()).is_some());
    }

    #[test]
    fn civil_days_match_chrono_for_every_day_of_many_years() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        for year in (0..=9999).step_by(7).chain([1900, 2000, 2023, 2024, 2100]) {
            for month in 0..=13 {
                for day in 0..=32 {
                    let want = NaiveDate::from_ymd_opt(year, month, day)
                        .map(|d| d.signed_duration_since(epoch).num_days());
                    assert_eq!(
                        days_from_civil(year, month, day),
                        want,
                        "{year}-{month}-{day}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_remembered_date_answers_as_the_calendar_does() {
        // Repeats, neighbours, dates that do not exist between ones that do, year 0.
        let dates = [
            (2023, 1, 1),
            (2023, 1, 1),
            (2023, 2, 29),
            (2023, 1, 1),
            (2024, 2, 29),
            (2024, 2, 29),
            (2024, 2, 30),
            (0, 0, 0),
            (0, 1, 1),
            (0, 0, 0),
            (2023, 13, 1),
            (2023, 12, 31),
            (9999, 12, 31),
        ];
        for _ in 0..2 {
            for &(y, m, d) in &dates {
                assert_eq!(
                    days_of_date(y, m, d),
                    days_from_civil(y as i32, m, d),
                    "{y}-{m}-{d}"
                );
            }
        }
    }

    #[test]
    fn other_shapes_parse_slowly() {
        assert_eq!(
            EventTime::parse("2023-01-05").unwrap().utc_ms,
            1_672_876_800_000
        );
        assert_eq!(
            EventTime::parse("2023-01-05 21:42:11").unwrap().utc_ms,
            1_672_954_931_000
        );
        assert_eq!(
            EventTime::parse("2023-01-05T21:42:11+0100")
                .unwrap()
                .offset_min,
            60
        );
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "yesterday",
            "2023-13-05T21:42:11Z",
            "2023-02-30T00:00:00Z",
            "2023-01-05T25:00:00Z",
            "2023-01-05T21:42:11.Z",
            "2023-01-05T21:42:11.218+5:30",
            "２０２３-01-05T21:42:11Z",
            // Found by fuzzing: chrono reads these, but they print as no RFC 3339 time.
            "-9999-12-3",
            "+10000-01-01",
        ] {
            assert_eq!(EventTime::parse(s), None, "{s:?}");
        }
    }

    #[test]
    fn event_time_follows_the_processor_rules() {
        let p = |s: &str| EventTime::parse(s);
        let explicit = TimeFields {
            timestamp: p("2023-01-01T00:00:00.000Z"),
            received_at: p("2023-01-02T00:00:00.000Z"),
            ..Default::default()
        };
        assert_eq!(explicit.event_time(), p("2023-01-01T00:00:00.000Z"));

        let computed = TimeFields {
            timestamp: None,
            received_at: p("2023-01-01T00:00:10.000Z"),
            sent_at: p("2023-01-01T00:00:05.000Z"),
            original_timestamp: p("2023-01-01T00:00:01.000Z"),
        };
        assert_eq!(
            computed.event_time().unwrap().utc_ms,
            p("2023-01-01T00:00:06.000Z").unwrap().utc_ms
        );

        let only_orig = TimeFields {
            received_at: p("2023-01-01T00:00:10.000Z"),
            original_timestamp: p("2023-01-01T00:00:01.000Z"),
            ..Default::default()
        };
        // No sentAt: it stands in as receivedAt, so timestamp = originalTimestamp.
        assert_eq!(
            only_orig.event_time().unwrap().utc_ms,
            p("2023-01-01T00:00:01.000Z").unwrap().utc_ms
        );
        assert_eq!(TimeFields::default().event_time(), None);
    }
}

//! The on-disk frame: `len: u32 LE | crc32: u32 LE | seq: u64 LE | payload[len]`, the CRC over
//! the length, sequence number and payload. Segment files are frames back to back; a snapshot
//! file is one frame.

use std::path::Path;

/// Bytes before the payload.
pub const HEADER_BYTES: usize = 16;
/// Largest payload a frame may declare: a corrupt length can never make the reader allocate
/// or scan more than this for one record.
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;
/// How many sequence numbers past the expected one the reader probes for when it meets a bad
/// frame, to tell a torn tail (nothing valid after it) from damage in the middle.
const RESYNC_SEQ_WINDOW: u64 = 2;

/// Appends one frame to `out`.
pub fn encode_frame(seq: u64, payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&checksum(len, seq, payload).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

fn checksum(len: u32, seq: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len.to_le_bytes());
    hasher.update(&seq.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// One frame read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Its sequence number.
    pub seq: u64,
    /// Its payload.
    pub payload: &'a [u8],
    /// Where it starts in the file.
    pub offset: usize,
}

/// Why a frame at some offset is not valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bad {
    /// Fewer bytes left than the header or the declared payload.
    Short,
    /// Declared length above [`MAX_RECORD_BYTES`].
    TooLong(usize),
    /// Checksum mismatch.
    Checksum,
    /// A valid frame with an unexpected sequence number.
    Sequence { expected: u64, found: u64 },
}

impl std::fmt::Display for Bad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bad::Short => write!(f, "record cut short"),
            Bad::TooLong(len) => write!(f, "record length {len} above {MAX_RECORD_BYTES}"),
            Bad::Checksum => write!(f, "checksum mismatch"),
            Bad::Sequence { expected, found } => {
                write!(f, "sequence number {found} where {expected} was expected")
            }
        }
    }
}

/// Decodes the frame at `offset`, whatever its sequence number.
pub fn frame_at(bytes: &[u8], offset: usize) -> Result<Frame<'_>, Bad> {
    let header = bytes.get(offset..offset.saturating_add(HEADER_BYTES)).ok_or(Bad::Short)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let mut seq_bytes = [0u8; 8];
    seq_bytes.copy_from_slice(&header[8..16]);
    let seq = u64::from_le_bytes(seq_bytes);
    let len_usize = len as usize;
    if len_usize > MAX_RECORD_BYTES {
        return Err(Bad::TooLong(len_usize));
    }
    let start = offset + HEADER_BYTES;
    let payload = bytes.get(start..start + len_usize).ok_or(Bad::Short)?;
    if checksum(len, seq, payload) != crc {
        return Err(Bad::Checksum);
    }
    Ok(Frame { seq, payload, offset })
}

/// A segment read up to its first bad frame.
#[derive(Debug)]
pub struct Segment<'a> {
    /// The valid frames, in order, with consecutive sequence numbers.
    pub frames: Vec<Frame<'a>>,
    /// Length of the valid prefix.
    pub valid_len: usize,
    /// The first bad frame, if any: where and why.
    pub bad: Option<(usize, Bad)>,
    /// Whether a valid frame follows the bad one (damage in the middle, not a torn tail).
    pub valid_after_bad: bool,
}

/// Reads frames from the start of `bytes`, expecting `first_seq` first (any, if `None`).
/// Never panics and never allocates more than the frame list (at most one entry per 16
/// bytes of input); time is linear in the input, plus one bounded probe after a bad frame.
pub fn read_segment(bytes: &[u8], first_seq: Option<u64>) -> Segment<'_> {
    let mut frames = Vec::new();
    let mut offset = 0;
    let mut expected = first_seq;
    let mut bad = None;
    while offset < bytes.len() {
        match frame_at(bytes, offset) {
            Ok(frame) if expected.is_none_or(|e| e == frame.seq) => {
                expected = Some(frame.seq + 1);
                offset += HEADER_BYTES + frame.payload.len();
                frames.push(frame);
            }
            Ok(frame) => {
                let expected = expected.unwrap_or_default();
                bad = Some((offset, Bad::Sequence { expected, found: frame.seq }));
                break;
            }
            Err(why) => {
                bad = Some((offset, why));
                break;
            }
        }
    }
    let valid_after_bad = match &bad {
        Some((at, _)) => {
            let expected = expected.unwrap_or_default();
            valid_frame_after(bytes, *at + 1, expected)
        }
        None => false,
    };
    Segment { frames, valid_len: offset.min(bytes.len()), bad, valid_after_bad }
}

/// Whether a valid frame with a sequence number in `expected..=expected + window` starts at
/// or after `from`. The sequence number is checked before the checksum, so random bytes are
/// rejected at a cost of a few comparisons per offset.
fn valid_frame_after(bytes: &[u8], from: usize, expected: u64) -> bool {
    let last = bytes.len().saturating_sub(HEADER_BYTES);
    (from..=last).any(|at| {
        let mut seq_bytes = [0u8; 8];
        seq_bytes.copy_from_slice(&bytes[at + 8..at + 16]);
        let seq = u64::from_le_bytes(seq_bytes);
        seq.wrapping_sub(expected) <= RESYNC_SEQ_WINDOW && frame_at(bytes, at).is_ok()
    })
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or the new one: a
/// temporary file, fsync, rename, fsync of the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Makes a directory's entries (new, renamed or deleted files) durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal(records: &[&[u8]], first_seq: u64) -> (Vec<u8>, Vec<usize>) {
        let mut out = Vec::new();
        let mut offsets = Vec::new();
        for (i, r) in records.iter().enumerate() {
            offsets.push(out.len());
            encode_frame(first_seq + i as u64, r, &mut out);
        }
        (out, offsets)
    }

    const RECORDS: &[&[u8]] = &[b"first", b"", b"third record", b"{\"x\":4}", b"fifth and last"];

    #[test]
    fn frames_round_trip() {
        let (bytes, offsets) = journal(RECORDS, 41);
        let seg = read_segment(&bytes, Some(41));
        assert!(seg.bad.is_none());
        assert_eq!(seg.valid_len, bytes.len());
        let got: Vec<(u64, &[u8], usize)> =
            seg.frames.iter().map(|f| (f.seq, f.payload, f.offset)).collect();
        let want: Vec<(u64, &[u8], usize)> =
            RECORDS.iter().enumerate().map(|(i, r)| (41 + i as u64, *r, offsets[i])).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_torn_tail_at_every_byte_of_the_last_record_keeps_everything_before_it() {
        let (bytes, offsets) = journal(RECORDS, 1);
        let last = *offsets.last().unwrap();
        for cut in last + 1..bytes.len() {
            let seg = read_segment(&bytes[..cut], Some(1));
            assert_eq!(seg.frames.len(), RECORDS.len() - 1, "cut at {cut}");
            assert_eq!(seg.valid_len, last, "cut at {cut}");
            assert_eq!(seg.bad, Some((last, Bad::Short)), "cut at {cut}");
            assert!(!seg.valid_after_bad, "cut at {cut}");
        }
        // Cut exactly at the boundary: nothing bad at all.
        let seg = read_segment(&bytes[..last], Some(1));
        assert!(seg.bad.is_none());
    }

    #[test]
    fn garbage_in_the_last_record_is_a_torn_tail_not_damage_in_the_middle() {
        let (bytes, offsets) = journal(RECORDS, 1);
        let last = *offsets.last().unwrap();
        for at in last..bytes.len() {
            let mut torn = bytes.clone();
            torn[at] ^= 0x5a;
            let seg = read_segment(&torn, Some(1));
            assert_eq!(seg.frames.len(), RECORDS.len() - 1, "flip at {at}");
            assert!(seg.bad.is_some() && !seg.valid_after_bad, "flip at {at}");
        }
    }

    #[test]
    fn a_flipped_bit_in_the_middle_is_reported_with_its_offset() {
        let (bytes, offsets) = journal(RECORDS, 1);
        for record in 0..RECORDS.len() - 1 {
            for at in offsets[record]..offsets[record + 1] {
                for bit in [0, 3, 7] {
                    let mut damaged = bytes.clone();
                    damaged[at] ^= 1 << bit;
                    let seg = read_segment(&damaged, Some(1));
                    let (bad_at, _) = seg.bad.clone().expect("damage is noticed");
                    assert_eq!(bad_at, offsets[record], "flip of bit {bit} at {at}");
                    assert!(seg.valid_after_bad, "flip of bit {bit} at {at}: {:?}", seg.bad);
                }
            }
        }
    }

    #[test]
    fn a_huge_declared_length_is_refused_without_allocating() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&[0; 12]);
        let seg = read_segment(&bytes, None);
        assert_eq!(seg.bad, Some((0, Bad::TooLong(u32::MAX as usize))));
    }

    #[test]
    fn an_unexpected_sequence_number_is_not_read_as_the_next_record() {
        let (bytes, _) = journal(RECORDS, 10);
        let seg = read_segment(&bytes, Some(9));
        assert!(seg.frames.is_empty());
        assert_eq!(seg.bad, Some((0, Bad::Sequence { expected: 9, found: 10 })));
    }
}

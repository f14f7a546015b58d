//! Bounds-checked reads from attacker-controlled bytes: every read is an `Option`, so a short
//! buffer is a value to handle, never a panic. The wire layers (capture, decode, flow, proto) deny
//! `clippy::indexing_slicing` and read through these.

/// `N` bytes at `off`, or `None` when the buffer is shorter.
pub fn array<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}

/// Big-endian u16 at `off`.
pub fn be16(b: &[u8], off: usize) -> Option<u16> {
    array(b, off).map(u16::from_be_bytes)
}

/// Big-endian u32 at `off`.
pub fn be32(b: &[u8], off: usize) -> Option<u32> {
    array(b, off).map(u32::from_be_bytes)
}

/// Little-endian u16 at `off`.
pub fn le16(b: &[u8], off: usize) -> Option<u16> {
    array(b, off).map(u16::from_le_bytes)
}

/// Little-endian u32 at `off`.
pub fn le32(b: &[u8], off: usize) -> Option<u32> {
    array(b, off).map(u32::from_le_bytes)
}

/// The bytes from `off` to the end (empty when `off` is past it).
pub fn tail(b: &[u8], off: usize) -> &[u8] {
    b.get(off..).unwrap_or(&[])
}

/// At most the first `n` bytes.
pub fn head(b: &[u8], n: usize) -> &[u8] {
    b.get(..n.min(b.len())).unwrap_or(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_reads_are_none_and_long_reads_exact() {
        let b = [1u8, 2, 3, 4, 5];
        assert_eq!(be16(&b, 0), Some(0x0102));
        assert_eq!(le16(&b, 3), Some(0x0504));
        assert_eq!(be16(&b, 4), None);
        assert_eq!(be32(&b, 1), Some(0x0203_0405));
        assert_eq!(le32(&b, 2), None);
        assert_eq!(array::<2>(&b, usize::MAX), None);
        assert_eq!(tail(&b, 3), &[4, 5]);
        assert_eq!(tail(&b, 9), &[] as &[u8]);
        assert_eq!(head(&b, 2), &[1, 2]);
        assert_eq!(head(&b, 9), &b);
    }
}

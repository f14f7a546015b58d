//! Writing captures: classic pcap (microsecond timestamps, one link type) and pcapng (one interface
//! block per link type, so frames from different link layers can share a file). Used by the
//! simulator and by `extract`, which writes the original frames of chosen connections for Wireshark.

use std::io::{self, Write};

/// The snap length written in headers: what tcpdump uses by default.
pub const SNAPLEN: u32 = 262_144;

/// Output container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    Pcap,
    Pcapng,
}

impl CaptureFormat {
    /// `.pcapng` (any case) means pcapng; anything else classic pcap.
    pub fn for_path(p: &std::path::Path) -> CaptureFormat {
        match p.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("pcapng") => CaptureFormat::Pcapng,
            _ => CaptureFormat::Pcap,
        }
    }
}

/// Why a frame could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error(
        "frames with link type {0} after link type {1}: a pcap file has one link type (write .pcapng)"
    )]
    MixedLinktypes(u32, u32),
}

/// A capture being written. Classic pcap writes its header with the first frame's link type.
pub struct CaptureWriter<W: Write> {
    out: W,
    format: CaptureFormat,
    /// pcap: the file's link type once the header is written; pcapng: one entry per interface.
    linktypes: Vec<u32>,
    pub packets: u64,
    pub bytes: u64,
}

impl<W: Write> CaptureWriter<W> {
    /// A writer; pcapng writes its section header now, pcap waits for the first frame's link type.
    pub fn new(mut out: W, format: CaptureFormat) -> io::Result<Self> {
        let mut bytes = 0;
        if format == CaptureFormat::Pcapng {
            let mut b = Vec::with_capacity(28);
            b.extend_from_slice(&0x0A0D_0D0Au32.to_le_bytes());
            b.extend_from_slice(&28u32.to_le_bytes());
            b.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
            b.extend_from_slice(&1u16.to_le_bytes());
            b.extend_from_slice(&0u16.to_le_bytes());
            b.extend_from_slice(&(-1i64).to_le_bytes()); // section length unknown
            b.extend_from_slice(&28u32.to_le_bytes());
            out.write_all(&b)?;
            bytes = 28;
        }
        Ok(CaptureWriter {
            out,
            format,
            linktypes: Vec::new(),
            packets: 0,
            bytes,
        })
    }

    /// A classic pcap with its header written now (the simulator: Ethernet from the start, its
    /// own snap length).
    pub fn pcap(out: W, linktype: u32, snaplen: u32) -> io::Result<Self> {
        let mut w = Self::new(out, CaptureFormat::Pcap)?;
        w.pcap_header(linktype, snaplen)?;
        Ok(w)
    }

    fn pcap_header(&mut self, linktype: u32, snaplen: u32) -> io::Result<()> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&snaplen.to_le_bytes());
        h.extend_from_slice(&linktype.to_le_bytes());
        self.out.write_all(&h)?;
        self.linktypes.push(linktype);
        self.bytes += 24;
        Ok(())
    }

    /// The pcapng interface for `linktype`, describing it on first use.
    fn interface(&mut self, linktype: u32) -> io::Result<u32> {
        if let Some(i) = self.linktypes.iter().position(|&l| l == linktype) {
            return Ok(i as u32);
        }
        let mut b = Vec::with_capacity(20);
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&20u32.to_le_bytes());
        // the link type field is 16 bits in an IDB
        b.extend_from_slice(&(linktype as u16).to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&SNAPLEN.to_le_bytes());
        b.extend_from_slice(&20u32.to_le_bytes());
        self.out.write_all(&b)?;
        self.bytes += 20;
        self.linktypes.push(linktype);
        Ok(self.linktypes.len() as u32 - 1)
    }

    /// Write one frame: `ts` in UTC microseconds, `orig_len` its length on the wire.
    pub fn write(
        &mut self,
        ts: i64,
        linktype: u32,
        data: &[u8],
        orig_len: u32,
    ) -> Result<(), WriteError> {
        let ts = ts.max(0) as u64;
        let cap = data.len().min(SNAPLEN as usize);
        let data = data.get(..cap).unwrap_or(data);
        let orig_len = orig_len.max(cap as u32);
        match self.format {
            CaptureFormat::Pcap => {
                match self.linktypes.first() {
                    None => self.pcap_header(linktype, SNAPLEN)?,
                    Some(&l) if l != linktype => {
                        return Err(WriteError::MixedLinktypes(linktype, l));
                    }
                    Some(_) => {}
                }
                let mut h = Vec::with_capacity(16);
                h.extend_from_slice(&((ts / 1_000_000) as u32).to_le_bytes());
                h.extend_from_slice(&((ts % 1_000_000) as u32).to_le_bytes());
                h.extend_from_slice(&(cap as u32).to_le_bytes());
                h.extend_from_slice(&orig_len.to_le_bytes());
                self.out.write_all(&h)?;
                self.out.write_all(data)?;
                self.bytes += 16 + cap as u64;
            }
            CaptureFormat::Pcapng => {
                let iface = self.interface(linktype)?;
                let pad = (4 - cap % 4) % 4;
                let total = 32 + cap + pad;
                let mut h = Vec::with_capacity(28);
                h.extend_from_slice(&6u32.to_le_bytes());
                h.extend_from_slice(&(total as u32).to_le_bytes());
                h.extend_from_slice(&iface.to_le_bytes());
                // default if_tsresol: microseconds
                h.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
                h.extend_from_slice(&(ts as u32).to_le_bytes());
                h.extend_from_slice(&(cap as u32).to_le_bytes());
                h.extend_from_slice(&orig_len.to_le_bytes());
                self.out.write_all(&h)?;
                self.out.write_all(data)?;
                self.out.write_all([0u8; 3].get(..pad).unwrap_or(&[]))?;
                self.out.write_all(&(total as u32).to_le_bytes())?;
                self.bytes += total as u64;
            }
        }
        self.packets += 1;
        Ok(())
    }

    /// Flush and hand back the writer. A pcap that received no frame gets an Ethernet header, so
    /// the file is still a valid (empty) capture.
    pub fn finish(mut self) -> io::Result<W> {
        if self.format == CaptureFormat::Pcap && self.linktypes.is_empty() {
            self.pcap_header(1, SNAPLEN)?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_back(bytes: Vec<u8>) -> Vec<(i64, u32, Vec<u8>, u32)> {
        let mut v = Vec::new();
        let (_, end) = crate::capture::read_capture(std::io::Cursor::new(bytes), |f| {
            v.push((f.ts, f.linktype, f.data.to_vec(), f.orig_len))
        })
        .unwrap();
        assert_eq!(end, crate::capture::ReadEnd::Complete);
        v
    }

    #[test]
    fn pcap_and_pcapng_read_back_frame_for_frame() {
        let frames = [
            (1_700_000_000_123_456i64, 1u32, vec![1u8; 60], 60u32),
            (1_700_000_001_000_001, 1, vec![2u8; 61], 1514),
        ];
        for fmt in [CaptureFormat::Pcap, CaptureFormat::Pcapng] {
            let mut w = CaptureWriter::new(Vec::new(), fmt).unwrap();
            for (ts, lt, d, o) in &frames {
                w.write(*ts, *lt, d, *o).unwrap();
            }
            assert_eq!(w.packets, 2);
            let bytes = w.finish().unwrap();
            assert_eq!(read_back(bytes), frames.to_vec(), "{fmt:?}");
        }
    }

    #[test]
    fn pcapng_holds_mixed_link_types_and_pcap_refuses_them() {
        let mut w = CaptureWriter::new(Vec::new(), CaptureFormat::Pcapng).unwrap();
        w.write(5, 1, &[0u8; 14], 14).unwrap();
        w.write(6, 101, &[0x45u8; 20], 20).unwrap();
        w.write(7, 1, &[0u8; 15], 15).unwrap();
        let got: Vec<u32> = read_back(w.finish().unwrap()).iter().map(|f| f.1).collect();
        assert_eq!(got, vec![1, 101, 1]);
        let mut w = CaptureWriter::new(Vec::new(), CaptureFormat::Pcap).unwrap();
        w.write(5, 1, &[0u8; 14], 14).unwrap();
        assert!(matches!(
            w.write(6, 101, &[0u8; 20], 20),
            Err(WriteError::MixedLinktypes(101, 1))
        ));
    }

    #[test]
    fn an_empty_pcap_is_still_a_capture() {
        let bytes = CaptureWriter::new(Vec::new(), CaptureFormat::Pcap)
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(bytes.len(), 24);
        assert!(read_back(bytes).is_empty());
    }
}

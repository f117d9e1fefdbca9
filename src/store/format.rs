//! The file format: the fixed header, the byte offsets of the sections, and the check value of
//! each full vector.

#[cfg(target_endian = "big")]
compile_error!("the search store format is little-endian");

const MAGIC: &[u8; 8] = b"PSKSTORE";
/// Bumped whenever the layout changes.
pub const FORMAT_VERSION: u32 = 4;
pub(super) const HEADER_LEN: usize = 256;
const ALIGN: usize = 64;

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Identifies everything the vectors depend on (scorer, encoder, detector, format).
    pub key: [u8; 16],
    /// Digest of the folder's (path, content hash) list the store was built from.
    pub digest: [u8; 32],
    /// Searchable images.
    pub rows: u64,
    /// Images withheld by the legal filter (their hashes are kept, never their vectors).
    pub withheld: u64,
    /// Searchable images the whole-image check flagged but the check then cleared because
    /// nobody is in view: for telling the user what the legal check did.
    pub cleared: u64,
    /// Searchable images the whole-image check flagged, with people in view that the decision
    /// where people are in view takes for adults.
    pub adults: u64,
    /// Searchable images the check withholds, shown by a guardian's consent.
    pub consented: u64,
    /// Searchable images the check withholds, shown because the owner declared no child there.
    pub declared_no_child: u64,
    /// Identifies the owner's declarations in force when the store was built.
    pub declared: [u8; 16],
    pub rank: u32,
    pub dim: u32,
    /// How many vectors the basis was fitted on.
    pub fitted_on: u64,
    /// Total bytes of all paths.
    pub path_bytes: u64,
}

/// Byte offsets of the sections.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    pub(super) mean: usize,
    pub(super) basis: usize,
    pub(super) codes: usize,
    pub(super) scales: usize,
    pub(super) tags: usize,
    pub(super) hashes: usize,
    pub(super) withheld: usize,
    pub(super) marks: usize,
    pub(super) path_offsets: usize,
    pub(super) path_blob: usize,
    pub(super) full: usize,
    pub(super) len: usize,
}

fn align(x: usize) -> Option<usize> {
    x.checked_add(ALIGN - 1).map(|v| v / ALIGN * ALIGN)
}

impl Layout {
    pub(super) fn of(h: &Header) -> Option<Layout> {
        let rows = usize::try_from(h.rows).ok()?;
        let withheld = usize::try_from(h.withheld).ok()?;
        let (r, d) = (h.rank as usize, h.dim as usize);
        let path_bytes = usize::try_from(h.path_bytes).ok()?;
        let mut at = HEADER_LEN;
        let mut next = |len: usize| -> Option<usize> {
            let start = at;
            at = align(start.checked_add(len)?)?;
            Some(start)
        };
        let mean = next(d.checked_mul(4)?)?;
        let basis = next(r.checked_mul(d)?.checked_mul(4)?)?;
        let codes = next(rows.checked_mul(r)?)?;
        let scales = next(rows.checked_mul(4)?)?;
        let tags = next(rows.checked_mul(8)?)?;
        let hashes = next(rows.checked_mul(32)?)?;
        let withheld = next(withheld.checked_mul(32)?)?;
        let marks = next(rows)?;
        let path_offsets = next(rows.checked_add(1)?.checked_mul(8)?)?;
        let path_blob = next(path_bytes)?;
        let full = next(rows.checked_mul(d)?.checked_mul(2)?)?;
        Some(Layout {
            mean,
            basis,
            codes,
            scales,
            tags,
            hashes,
            withheld,
            marks,
            path_offsets,
            path_blob,
            full,
            len: at,
        })
    }
}

impl Header {
    pub(super) fn encode(&self, body_sum: &[u8; 32]) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[12..28].copy_from_slice(&self.key);
        b[28..60].copy_from_slice(&self.digest);
        b[60..68].copy_from_slice(&self.rows.to_le_bytes());
        b[68..76].copy_from_slice(&self.withheld.to_le_bytes());
        b[76..80].copy_from_slice(&self.rank.to_le_bytes());
        b[80..84].copy_from_slice(&self.dim.to_le_bytes());
        b[84..92].copy_from_slice(&self.fitted_on.to_le_bytes());
        b[92..100].copy_from_slice(&self.path_bytes.to_le_bytes());
        b[100..132].copy_from_slice(body_sum);
        b[132..140].copy_from_slice(&self.cleared.to_le_bytes());
        b[140..148].copy_from_slice(&self.adults.to_le_bytes());
        b[148..156].copy_from_slice(&self.consented.to_le_bytes());
        b[156..164].copy_from_slice(&self.declared_no_child.to_le_bytes());
        b[164..180].copy_from_slice(&self.declared);
        let check = blake3::hash(&b[..HEADER_LEN - 16]);
        b[HEADER_LEN - 16..].copy_from_slice(&check.as_bytes()[..16]);
        b
    }

    pub(super) fn decode(b: &[u8]) -> Result<(Header, [u8; 32]), String> {
        if b.len() < HEADER_LEN {
            return Err(format!("{} bytes, shorter than its header", b.len()));
        }
        if &b[0..8] != MAGIC {
            return Err("not a picseek search store".into());
        }
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let version = u32_at(8);
        if version != FORMAT_VERSION {
            return Err(format!(
                "format version {version}, expected {FORMAT_VERSION}"
            ));
        }
        let check = blake3::hash(&b[..HEADER_LEN - 16]);
        if check.as_bytes()[..16] != b[HEADER_LEN - 16..HEADER_LEN] {
            return Err("header checksum mismatch".into());
        }
        let h = Header {
            key: b[12..28].try_into().expect("16 bytes"),
            digest: b[28..60].try_into().expect("32 bytes"),
            rows: u64_at(60),
            withheld: u64_at(68),
            rank: u32_at(76),
            dim: u32_at(80),
            fitted_on: u64_at(84),
            path_bytes: u64_at(92),
            cleared: u64_at(132),
            adults: u64_at(140),
            consented: u64_at(148),
            declared_no_child: u64_at(156),
            declared: b[164..180].try_into().expect("16 bytes"),
        };
        Ok((h, b[100..132].try_into().expect("32 bytes")))
    }
}

/// A row's check value: its CRC-32 (hardware-accelerated, so checking a shortlisted row costs
/// far less than reading it) and its length.
pub(super) fn row_tag(bytes: &[u8]) -> [u8; 8] {
    let tag = u64::from(crc32fast::hash(bytes)) | ((bytes.len() as u64) << 32);
    tag.to_le_bytes()
}

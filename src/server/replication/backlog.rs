//! The replication backlog: the tail of the replication stream, kept in blocks.
//!
//! Offsets are Redis's: byte number `n` (1-based) of the stream is the byte after
//! offset `n - 1`. The backlog holds bytes `first .. end` (`end` = master_repl_offset
//! plus 1). Like Redis 7, blocks are dropped from the head only when what remains still
//! covers `repl-backlog-size` and no replica still needs them, so a replica that is
//! sending from the backlog never loses its bytes (its own output-buffer limit
//! decides when it is too far behind).

use std::collections::VecDeque;

const MIN_BLOCK: usize = 16 * 1024;

pub struct Backlog {
    blocks: VecDeque<Vec<u8>>,
    /// Byte number of the first byte held.
    first: i64,
    histlen: usize,
    /// `repl-backlog-size`.
    pub size: usize,
    block_size: usize,
}

impl Backlog {
    /// An empty backlog whose next byte is `next` (master_repl_offset + 1).
    pub fn new(size: usize, next: i64) -> Backlog {
        let size = size.max(MIN_BLOCK);
        Backlog {
            blocks: VecDeque::new(),
            first: next,
            histlen: 0,
            size,
            block_size: (size / 16).max(MIN_BLOCK),
        }
    }

    /// `repl_backlog_first_byte_offset`.
    pub fn first(&self) -> i64 {
        self.first
    }

    /// `repl_backlog_histlen`.
    pub fn histlen(&self) -> usize {
        self.histlen
    }

    /// Byte number of the next byte to be appended.
    pub fn end(&self) -> i64 {
        self.first + self.histlen as i64
    }

    /// Change the configured size (CONFIG SET repl-backlog-size).
    pub fn resize(&mut self, size: usize) {
        self.size = size.max(MIN_BLOCK);
        self.block_size = (self.size / 16).max(MIN_BLOCK);
    }

    pub fn append(&mut self, mut data: &[u8]) {
        self.histlen += data.len();
        while !data.is_empty() {
            let need_new = match self.blocks.back() {
                Some(b) => b.len() >= self.block_size,
                None => true,
            };
            if need_new {
                self.blocks.push_back(Vec::with_capacity(self.block_size));
            }
            let Some(b) = self.blocks.back_mut() else {
                return;
            };
            let room = self.block_size - b.len();
            let n = room.min(data.len());
            b.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
    }

    /// Drop whole head blocks while the rest still covers `size` bytes and starts at
    /// or before `keep_from` (the oldest byte a replica still has to send).
    pub fn trim(&mut self, keep_from: Option<i64>) {
        while self.blocks.len() > 1 {
            let head = self.blocks[0].len();
            if self.histlen - head < self.size {
                break;
            }
            if let Some(k) = keep_from {
                if self.first + head as i64 > k {
                    break;
                }
            }
            self.blocks.pop_front();
            self.first += head as i64;
            self.histlen -= head;
        }
    }

    /// Whether byte number `from` can be served (`first <= from <= end`).
    pub fn covers(&self, from: i64) -> bool {
        from >= self.first && from <= self.end()
    }

    /// Up to `max` bytes starting at byte number `from`. `None` when `from` is no
    /// longer (or not yet) in the backlog.
    pub fn read(&self, from: i64, max: usize) -> Option<Vec<u8>> {
        if !self.covers(from) {
            return None;
        }
        let mut skip = (from - self.first) as usize;
        let mut out = Vec::with_capacity(((self.end() - from) as usize).min(max));
        for b in &self.blocks {
            if out.len() >= max {
                break;
            }
            if skip >= b.len() {
                skip -= b.len();
                continue;
            }
            let part = &b[skip..];
            skip = 0;
            let n = part.len().min(max - out.len());
            out.extend_from_slice(&part[..n]);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_and_trim() {
        let mut b = Backlog::new(16 * 1024, 1);
        assert!(b.covers(1));
        assert!(!b.covers(2));
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        b.append(&data);
        assert_eq!(b.end(), 100_001);
        assert_eq!(b.read(5, 3).unwrap(), vec![4, 5, 6]);
        b.trim(Some(10));
        assert_eq!(b.first(), 1, "a replica needs byte 10");
        b.trim(None);
        assert!(b.histlen() >= 16 * 1024 && b.histlen() < 32 * 1024 + 16 * 1024);
        assert!(b.read(1, 10).is_none());
        let f = b.first();
        assert_eq!(b.read(f, 2).unwrap(), vec![(f - 1) as u8, f as u8]);
        assert_eq!(b.read(b.end(), 10).unwrap(), Vec::<u8>::new());
        assert!(b.read(b.end() + 1, 10).is_none());
        let all = b.read(f, usize::MAX).unwrap();
        assert_eq!(all.len(), b.histlen());
    }
}

//! The hello message sentinels exchange on `__sentinel__:hello` (reference §3.13):
//! `<ip>,<port>,<runid>,<current_epoch>,<master_name>,<master_ip>,<master_port>,<master_config_epoch>`.

/// A parsed hello payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    pub ip: String,
    pub port: u16,
    pub runid: String,
    pub current_epoch: u64,
    pub master_name: String,
    pub master_ip: String,
    pub master_port: u16,
    pub master_config_epoch: u64,
}

/// A parsed hello payload borrowing its text (most hellos only confirm what is
/// known and need no copy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelloRef<'a> {
    pub ip: &'a str,
    pub port: u16,
    pub runid: &'a str,
    pub current_epoch: u64,
    pub master_name: &'a str,
    pub master_ip: &'a str,
    pub master_port: u16,
    pub master_config_epoch: u64,
}

impl<'a> HelloRef<'a> {
    /// Parse a payload; `None` unless it has exactly 8 well-formed fields.
    pub fn parse(payload: &'a str) -> Option<HelloRef<'a>> {
        let mut it = payload.split(',');
        let mut t = [""; 8];
        for slot in t.iter_mut() {
            *slot = it.next()?;
        }
        if it.next().is_some() {
            return None;
        }
        let port: u16 = t[1].parse().ok()?;
        let master_port: u16 = t[6].parse().ok()?;
        if t[0].is_empty() || t[2].len() != 40 || t[4].is_empty() || t[5].is_empty() {
            return None;
        }
        Some(HelloRef {
            ip: t[0],
            port,
            runid: t[2],
            current_epoch: t[3].parse().ok()?,
            master_name: t[4],
            master_ip: t[5],
            master_port,
            master_config_epoch: t[7].parse().ok()?,
        })
    }

    pub fn to_owned(self) -> Hello {
        Hello {
            ip: self.ip.to_string(),
            port: self.port,
            runid: self.runid.to_string(),
            current_epoch: self.current_epoch,
            master_name: self.master_name.to_string(),
            master_ip: self.master_ip.to_string(),
            master_port: self.master_port,
            master_config_epoch: self.master_config_epoch,
        }
    }
}

impl Hello {
    /// Parse a payload; `None` unless it has exactly 8 well-formed fields.
    pub fn parse(payload: &str) -> Option<Hello> {
        HelloRef::parse(payload).map(HelloRef::to_owned)
    }

    pub fn encode(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{}",
            self.ip,
            self.port,
            self.runid,
            self.current_epoch,
            self.master_name,
            self.master_ip,
            self.master_port,
            self.master_config_epoch
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let p =
            "127.0.0.1,26379,0123456789abcdef0123456789abcdef01234567,3,mymaster,127.0.0.1,6379,2";
        let h = Hello::parse(p).unwrap();
        assert_eq!(h.port, 26379);
        assert_eq!(h.current_epoch, 3);
        assert_eq!(h.master_config_epoch, 2);
        assert_eq!(h.encode(), p);
    }

    #[test]
    fn malformed() {
        for p in [
            "",
            "a,b,c",
            "127.0.0.1,x,0123456789abcdef0123456789abcdef01234567,3,m,1.1.1.1,6379,2",
            "127.0.0.1,1,short,3,m,1.1.1.1,6379,2",
            "127.0.0.1,1,0123456789abcdef0123456789abcdef01234567,-3,m,1.1.1.1,6379,2",
            "127.0.0.1,1,0123456789abcdef0123456789abcdef01234567,3,m,1.1.1.1,6379,2,9",
        ] {
            assert!(Hello::parse(p).is_none(), "{p}");
        }
    }
}

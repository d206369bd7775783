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

impl Hello {
    /// Parse a payload; `None` unless it has exactly 8 well-formed fields.
    pub fn parse(payload: &str) -> Option<Hello> {
        let t: Vec<&str> = payload.split(',').collect();
        if t.len() != 8 {
            return None;
        }
        let port: u16 = t[1].parse().ok()?;
        let master_port: u16 = t[6].parse().ok()?;
        if t[0].is_empty() || t[2].len() != 40 || t[4].is_empty() || t[5].is_empty() {
            return None;
        }
        Some(Hello {
            ip: t[0].to_string(),
            port,
            runid: t[2].to_string(),
            current_epoch: t[3].parse().ok()?,
            master_name: t[4].to_string(),
            master_ip: t[5].to_string(),
            master_port,
            master_config_epoch: t[7].parse().ok()?,
        })
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

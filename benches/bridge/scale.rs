//! How much each section does: the sizes for `cargo bench`, tiny ones for the
//! smoke run.

pub struct Scale {
    pub name: &'static str,
    /// Chats the throughput runs spread their messages over (one portal each).
    pub chats: usize,
    /// Text messages of a throughput run.
    pub texts: usize,
    /// 100 KiB pictures of a throughput run.
    pub pictures: usize,
    /// Messages sent one at a time, each after the last arrived, for the latency.
    pub latency_samples: usize,
    /// The login counts whose idle memory is measured, in rising order; the start-up
    /// is timed with the last.
    pub logins: Vec<usize>,
    /// Portals made for each of the first logins (up to `logins_with_portals`).
    pub portals_per_login: usize,
    pub logins_with_portals: usize,
    /// The history sync of the backfill run: chats × messages.
    pub history_chats: usize,
    pub history_messages: usize,
}

impl Scale {
    pub fn full() -> Self {
        Self {
            name: "full",
            chats: 10,
            texts: 1_000,
            pictures: 200,
            latency_samples: 200,
            logins: vec![1, 100, 1_000],
            portals_per_login: 3,
            logins_with_portals: 100,
            history_chats: 100,
            history_messages: 50,
        }
    }

    pub fn smoke() -> Self {
        Self {
            name: "smoke",
            chats: 2,
            texts: 6,
            pictures: 2,
            latency_samples: 3,
            logins: vec![1, 2],
            portals_per_login: 1,
            logins_with_portals: 2,
            history_chats: 3,
            history_messages: 4,
        }
    }
}

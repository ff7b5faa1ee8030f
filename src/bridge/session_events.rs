//! Follows one linked account's session: keeps its connection state, tells the owner
//! in their management room what they need to know (debounced), and forgets the
//! login when WhatsApp unlinks the device.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ruma::OwnedTransactionId;
use ruma::events::room::message::RoomMessageEventContent;
use tokio::sync::mpsc;

use super::connection::{Connection, Notice};
use super::groups::GroupSync;
use super::phone_watch::PhoneWatch;
use super::sessions::Owner;
use super::{Bridge, BridgeError};
use crate::whatsapp::session_event::{LogoutReason, SessionEvent};
use crate::whatsapp::store::WaStore;

const TICK: Duration = Duration::from_secs(1);
/// Phone sightings are written at most this often (they come with every receipt).
const PHONE_SEEN_WRITES: i64 = 60_000;

/// What the owner reads for a notice, in Markdown.
pub fn notice_text(notice: &Notice, owner: &Owner, now_ms: i64) -> String {
    let phone = &owner.phone;
    let login_again = "Send `login qr` or `login phone` to link it again.";
    match notice {
        Notice::Reconnecting => format!(
            "The connection to WhatsApp for {phone} was lost; the bridge keeps reconnecting. Messages wait until it is back: those from WhatsApp on WhatsApp, yours in the bridge."
        ),
        Notice::Reconnected => format!("Connected to WhatsApp again for {phone}."),
        Notice::LoggedOut(LogoutReason::Unlinked) => format!(
            "WhatsApp logged the bridge out of {phone}: it was removed from **Linked devices** on the phone (or the phone stayed offline too long). {login_again}"
        ),
        Notice::LoggedOut(LogoutReason::MainDeviceGone) => format!(
            "WhatsApp logged the bridge out of {phone}: the account's main device is gone (WhatsApp was removed or re-registered on the phone). {login_again}"
        ),
        Notice::LoggedOut(LogoutReason::Other(code)) => {
            format!("WhatsApp logged the bridge out of {phone} (code {code}). {login_again}")
        }
        Notice::TemporarilyBanned { until_ms } => {
            let minutes = (until_ms.saturating_sub(now_ms) / 60_000).max(1);
            format!(
                "WhatsApp has temporarily banned {phone} (402); the ban lifts in about {} (at {}). Send `reconnect` after that.",
                human_minutes(minutes),
                utc_time(*until_ms)
            )
        }
        Notice::ClientOutdated => format!(
            "WhatsApp refuses this bridge's client version for {phone} (405: client outdated). Update the bridge, or set `whatsapp.version` to a current WhatsApp Web version, then send `reconnect`."
        ),
        Notice::Replaced => format!(
            "Another connection took over the bridge's session for {phone}, so the bridge stopped to avoid a tug of war. Send `reconnect` to take it back."
        ),
        Notice::PhoneSilent { since_ms } => {
            let days = now_ms.saturating_sub(*since_ms) / (24 * 60 * 60 * 1000);
            format!(
                "Your phone ({phone}) has not been seen by WhatsApp for {days} days (last seen {}). The bridge is still connected, but WhatsApp disconnects linked devices when the phone stays offline for about 14 days: open WhatsApp on the phone (with internet) soon.",
                utc_time(*since_ms)
            )
        }
        Notice::PhoneBack => {
            format!("Your phone ({phone}) is back online for WhatsApp; the bridge stays linked.")
        }
        Notice::Refused { code, message } => format!(
            "WhatsApp refused the connection for {phone} (code {code}{}). Send `reconnect` to try again.",
            message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ),
    }
}

fn human_minutes(minutes: i64) -> String {
    match minutes {
        1 => "1 minute".into(),
        m if m < 120 => format!("{m} minutes"),
        m => format!("{} hours", m / 60),
    }
}

fn utc_time(ms: i64) -> String {
    let seconds = ms / 1000;
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The device's other tasks that hear of its events.
pub(super) struct Followers {
    /// The inbox pump, woken when messages are stored.
    pub inbox_arrivals: Arc<tokio::sync::Notify>,
    /// The inbox pump, told once WhatsApp delivered what waited.
    pub caught_up: Arc<tokio::sync::Notify>,
    pub group_changes: mpsc::UnboundedSender<GroupSync>,
    /// The history dispatcher, told what each kept payload held.
    pub history: mpsc::UnboundedSender<crate::whatsapp::history::HistoryRead>,
}

/// Runs until the session's events end.
pub(super) async fn follow(
    bridge: Bridge,
    device_id: i32,
    owner: Owner,
    connection: Arc<Mutex<Connection>>,
    mut events: mpsc::UnboundedReceiver<SessionEvent>,
    followers: Followers,
) {
    let mut ticker = tokio::time::interval(TICK);
    // Each follower (a session start) numbers its own notices.
    let follower: u64 = rand::random();
    let mut sent = 0u64;
    let mut phone_written: Option<i64> = None;
    let mut watchdog = Watchdog::start(&bridge, device_id).await;
    loop {
        let mut reconnected = false;
        let mut phone_seen = false;
        let notice = tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                if !matches!(event, SessionEvent::PhoneSeen | SessionEvent::MessagesStored | SessionEvent::CaughtUp | SessionEvent::GroupChanged(_) | SessionEvent::Read { .. } | SessionEvent::ReadElsewhere { .. } | SessionEvent::ContactName { .. } | SessionEvent::Typing { .. } | SessionEvent::PictureChanged(_)) {
                    tracing::info!(device_id, ?event, "WhatsApp session event");
                }
                let now = bridge.clock.now_ms();
                let notice = lock(&connection).on_event(&event, now);
                reconnected = matches!(event, SessionEvent::Connected);
                phone_seen = matches!(event, SessionEvent::PhoneSeen);
                match event {
                    SessionEvent::MessagesStored => followers.inbox_arrivals.notify_one(),
                    SessionEvent::CaughtUp => followers.caught_up.notify_one(),
                    SessionEvent::HistoryStored(ref read) => {
                        let _ = followers.history.send(read.clone());
                    }
                    SessionEvent::GroupChanged(ref group) => {
                        let _ = followers.group_changes.send(GroupSync::Changed(group.clone()));
                    }
                    SessionEvent::Connected => {
                        // What waited in the outbox goes now.
                        bridge.outbox.wake(device_id);
                        let _ = followers.group_changes.send(GroupSync::Connected);
                    }
                    SessionEvent::LoggedOut(_) => forget(&bridge, device_id, &connection).await,
                    SessionEvent::Read { chat, reader, message_ids } => {
                        let bridge = bridge.clone();
                        tokio::spawn(async move {
                            if let Err(err) = bridge.contact_read(device_id, &chat, &reader, &message_ids).await {
                                tracing::debug!(device_id, error = %err, "could not show a read receipt");
                            }
                        });
                    }
                    SessionEvent::ReadElsewhere { message_ids } => {
                        let bridge = bridge.clone();
                        let owner = owner.user.clone();
                        tokio::spawn(async move {
                            if let Err(err) = bridge.owner_read_on_phone(device_id, &owner, &message_ids).await {
                                tracing::debug!(device_id, error = %err, "could not show what the owner read on the phone");
                            }
                        });
                    }
                    SessionEvent::ContactName { user, name } => {
                        if let Err(err) = bridge.contact_named(&user, &name).await {
                            tracing::debug!(device_id, error = %err, "could not keep a contact's address-book name");
                        }
                    }
                    SessionEvent::PictureChanged(user) => bridge.refresh_avatar_later(device_id, user),
                    SessionEvent::Call { chat, caller, call_id, video, state } => {
                        let bridge = bridge.clone();
                        let owner = owner.clone();
                        let call = super::calls::Call { chat, caller, call_id, video, state };
                        tokio::spawn(async move {
                            if let Err(err) = bridge.on_call(device_id, &owner, &call).await {
                                tracing::warn!(device_id, error = %err, "could not tell about a call");
                            }
                        });
                    }
                    SessionEvent::Typing { chat, who, typing } => {
                        let bridge = bridge.clone();
                        tokio::spawn(async move {
                            if let Err(err) = bridge.contact_typing(device_id, &chat, &who, typing).await {
                                tracing::debug!(device_id, error = %err, "could not show typing");
                            }
                        });
                    }
                    SessionEvent::PhoneSeen
                        if phone_written.is_none_or(|at| now - at >= PHONE_SEEN_WRITES) =>
                    {
                        match bridge.db.set_phone_last_seen(device_id, now).await {
                            Ok(()) => phone_written = Some(now),
                            Err(err) => tracing::warn!(device_id, error = %err, "could not record the phone's last sighting"),
                        }
                    }
                    _ => {}
                }
                notice
            }
            _ = ticker.tick() => lock(&connection).tick(bridge.clock.now_ms()),
        };
        let mut notices: Vec<Notice> = notice.into_iter().collect();
        let phone_seen_ms = lock(&connection).phone_seen_ms();
        notices.extend(
            watchdog
                .step(
                    &bridge,
                    device_id,
                    &owner,
                    reconnected,
                    phone_seen,
                    phone_seen_ms,
                )
                .await,
        );
        for notice in notices {
            sent += 1;
            if let Err(err) = tell(&bridge, device_id, &owner, &notice, (follower, sent)).await {
                tracing::warn!(device_id, error = %err, "could not tell the owner about their connection");
            }
        }
    }
}

/// The phone-silence watchdog of one followed session: the pure watch, when it last
/// looked, and since when the login exists (a phone never heard from counts from then).
struct Watchdog {
    watch: PhoneWatch,
    interval_ms: i64,
    last_check_ms: Option<i64>,
    linked_at_ms: i64,
}

impl Watchdog {
    async fn start(bridge: &Bridge, device_id: i32) -> Self {
        let config = &bridge.config.whatsapp.phone_watchdog;
        let (warned, pinged) = bridge
            .db
            .phone_watch_marks(device_id)
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(device_id, error = %err, "cannot read the phone watchdog's marks");
                (None, None)
            });
        let linked_at_ms = match bridge.db.login_of_device(device_id).await {
            Ok(Some(login)) => login.created_at_ms,
            _ => bridge.clock.now_ms(),
        };
        Self {
            watch: PhoneWatch::new(config.warn_after, config.ping_after, warned, pinged),
            interval_ms: i64::try_from(config.check_interval.as_millis()).unwrap_or(i64::MAX),
            last_check_ms: None,
            linked_at_ms,
        }
    }

    /// After each event or tick: a sighting after a warning says the phone is back; a
    /// (re)connect, or the check interval, looks at the silence (warn, ping).
    async fn step(
        &mut self,
        bridge: &Bridge,
        device_id: i32,
        owner: &Owner,
        reconnected: bool,
        phone_seen: bool,
        phone_seen_ms: Option<i64>,
    ) -> Vec<Notice> {
        let now = bridge.clock.now_ms();
        let marks = (self.watch.warned_at_ms, self.watch.pinged_at_ms);
        let mut notices = Vec::new();
        if phone_seen && self.watch.seen() {
            notices.push(Notice::PhoneBack);
        }
        let due = self
            .last_check_ms
            .is_none_or(|at| now.saturating_sub(at) >= self.interval_ms);
        if reconnected || due {
            self.last_check_ms = Some(now);
            let seen_ms = phone_seen_ms.unwrap_or(self.linked_at_ms);
            let decision = self.watch.check(now, seen_ms);
            tracing::debug!(
                device_id,
                now,
                seen_ms,
                ?decision,
                "the phone watchdog looked"
            );
            if let Some(since_ms) = decision.warn_since_ms {
                notices.push(Notice::PhoneSilent { since_ms });
            }
            if decision.ping {
                ping(bridge, device_id, owner, now);
            }
        }
        if (self.watch.warned_at_ms, self.watch.pinged_at_ms) != marks
            && let Err(err) = bridge
                .db
                .set_phone_watch_marks(device_id, self.watch.warned_at_ms, self.watch.pinged_at_ms)
                .await
        {
            tracing::warn!(device_id, error = %err, "could not record the phone watchdog's marks");
        }
        notices
    }
}

/// Pings the phone in the background (best effort: a phone that does not answer stays
/// silent, and the next warning says so).
fn ping(bridge: &Bridge, device_id: i32, owner: &Owner, now_ms: i64) {
    let Some(session) = bridge.sessions.sender(device_id) else {
        return;
    };
    let phone = owner.phone.clone();
    tokio::spawn(async move {
        match session.ping_phone(&phone, now_ms).await {
            Ok(()) => tracing::info!(device_id, "pinged the phone after a long silence"),
            Err(err) => tracing::warn!(device_id, error = %err, "could not ping the phone"),
        }
    });
}

fn lock(connection: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    connection.lock().unwrap_or_else(PoisonError::into_inner)
}

/// WhatsApp unlinked the device: its keys and the login go.
async fn forget(bridge: &Bridge, device_id: i32, connection: &Arc<Mutex<Connection>>) {
    if let Some(session) = bridge.sessions.take_if_current(device_id, connection) {
        session.stop().await;
    }
    if let Err(err) = WaStore::delete_device(&bridge.db, device_id).await {
        tracing::warn!(device_id, error = %err, "could not delete an unlinked device");
    }
}

async fn tell(
    bridge: &Bridge,
    device_id: i32,
    owner: &Owner,
    notice: &Notice,
    (follower, sequence): (u64, u64),
) -> Result<(), BridgeError> {
    let Some(room) = bridge.db.management_room(&owner.user).await? else {
        tracing::info!(
            device_id,
            ?notice,
            "no management room to tell the owner in"
        );
        return Ok(());
    };
    let text = notice_text(notice, owner, bridge.clock.now_ms());
    let content = RoomMessageEventContent::notice_markdown(text);
    // A notice is about a live event and never replayed; the ID only has to be new.
    let txn = OwnedTransactionId::from(format!("connection.{device_id}.{follower:x}.{sequence}"));
    bridge
        .client
        .send_message(bridge.ids.bot(), &room, txn, &content)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_in_utc() {
        assert_eq!(utc_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_time(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(utc_time(1_796_236_200_000), "2026-12-02 18:30 UTC");
        assert_eq!(human_minutes(1), "1 minute");
        assert_eq!(human_minutes(59), "59 minutes");
        assert_eq!(human_minutes(180), "3 hours");
    }

    #[test]
    fn a_ban_says_when_it_lifts() {
        let owner = Owner {
            user: ruma::owned_user_id!("@alice:localhost"),
            phone: crate::whatsapp::phone::PhoneNumber::parse("+15550001234")
                .unwrap_or_else(|err| panic!("{err}")),
        };
        let text = notice_text(
            &Notice::TemporarilyBanned {
                until_ms: 3_600_000,
            },
            &owner,
            0,
        );
        assert!(text.contains("+15550001234"), "{text}");
        assert!(text.contains("60 minutes"), "{text}");
        assert!(text.contains("1970-01-01 01:00 UTC"), "{text}");
    }
}

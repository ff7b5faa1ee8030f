//! A user's account data that the bridge keeps in line: `m.direct`, which rooms are
//! direct chats with whom.

use ruma::api::client::config::{get_global_account_data, set_global_account_data};
use ruma::events::GlobalAccountDataEventType;
use ruma::serde::Raw;
use ruma::{RoomId, UserId};
use serde_json::{Map, Value};

use super::client::{HomeserverClient, HomeserverError};

impl HomeserverClient {
    /// Lists `room` as a direct chat of `user` with `partner` in `user`'s `m.direct`
    /// (keeping everything else in it); nothing changes when it is already listed.
    pub async fn add_direct_room(
        &self,
        user: &UserId,
        partner: &UserId,
        room: &RoomId,
    ) -> Result<(), HomeserverError> {
        let request = get_global_account_data::v3::Request::new(
            user.to_owned(),
            GlobalAccountDataEventType::Direct,
        );
        let mut direct: Map<String, Value> = match self.send(user, request).await {
            Ok(response) => response
                .account_data
                .deserialize_as_unchecked::<Map<String, Value>>()
                .unwrap_or_default(),
            Err(err) if err.errcode() == Some("M_NOT_FOUND") => Map::new(),
            Err(err) => return Err(err),
        };
        let rooms = direct
            .entry(partner.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if !rooms.is_array() {
            *rooms = Value::Array(Vec::new());
        }
        let Some(list) = rooms.as_array_mut() else {
            return Ok(());
        };
        if list
            .iter()
            .any(|listed| listed.as_str() == Some(room.as_str()))
        {
            return Ok(());
        }
        list.push(Value::from(room.as_str()));
        let raw =
            serde_json::value::to_raw_value(&direct).map_err(|err| HomeserverError::Build {
                endpoint: "set_global_account_data".into(),
                detail: err.to_string(),
            })?;
        let request = set_global_account_data::v3::Request::new_raw(
            user.to_owned(),
            GlobalAccountDataEventType::Direct,
            Raw::from_json(raw),
        );
        self.send(user, request).await.map(drop)
    }
}

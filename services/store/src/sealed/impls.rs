//! The store's concerns through [`Sealed`]: each one that carries personal data seals it on
//! the way in and opens it on the way out; the others ([`Tokens`], [`Staff`], [`FlowFiles`], [`Audit`],
//! outbox leases, webhook settling, retention) pass straight through.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use seedgate_proto::{Event, Message, SessionRecord};
use seedgate_runtime::store::{
    Accepted, Advance, ApiToken, ArchiveSink, Audit, AuditEntry, AuditQuery, ChannelDefs, Contact,
    ContactQuery, Contacts, FlowAudit, FlowDraft, FlowFileInfo, FlowFiles, FlowRuns, FlowStat, FlowVersion,
    Idempotency, MessageQuery, Messages, Outbox, Published, Purged, Record, Retention, Saved, SessionDay,
    SessionQuery, Sessions, Staff, StaffSession, StaffUser, Store, StoreError, StoredChannel, StoredMessage,
    Subscription, SubscriptionCount, Subscriptions, Tokens, WebhookJob, WebhookOutcome, Webhooks,
};
use uuid::Uuid;

use super::Sealed;

#[async_trait]
impl<S: Store> Store for Sealed<S> {
    async fn check(&self) -> Result<(), StoreError> {
        self.inner.check().await
    }
}

#[async_trait]
impl<S: Store> Messages for Sealed<S> {
    async fn write_batch(&self, records: &[Record]) -> Result<(), StoreError> {
        self.inner.write_batch(&self.seal_records(records)).await
    }

    async fn message(&self, id: Uuid) -> Result<Option<Message>, StoreError> {
        self.inner
            .message(id)
            .await?
            .map(|m| self.open_message(m))
            .transpose()
    }

    async fn session_messages(&self, session_id: &str) -> Result<Vec<Message>, StoreError> {
        self.open_messages(self.inner.session_messages(session_id).await?)
    }

    async fn address_messages(&self, address: &str) -> Result<Vec<Message>, StoreError> {
        let address = seedgate_proto::msisdn::canonical(address);
        self.open_messages(self.inner.address_messages(&self.key.hash(&address)).await?)
    }

    async fn message_events(&self, message_id: Uuid) -> Result<Vec<Event>, StoreError> {
        self.inner.message_events(message_id).await
    }

    async fn stored_message(&self, id: Uuid) -> Result<Option<StoredMessage>, StoreError> {
        self.inner
            .stored_message(id)
            .await?
            .map(|s| self.open_stored(s))
            .transpose()
    }

    async fn messages(&self, query: &MessageQuery) -> Result<Vec<StoredMessage>, StoreError> {
        let mut q = query.clone();
        q.address = q
            .address
            .map(|a| self.key.hash(&seedgate_proto::msisdn::canonical(&a)));
        self.inner
            .messages(&q)
            .await?
            .into_iter()
            .map(|s| self.open_stored(s))
            .collect()
    }
}

#[async_trait]
impl<S: Store> Sessions for Sealed<S> {
    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.inner
            .session(id)
            .await?
            .map(|s| self.open_session(s))
            .transpose()
    }

    async fn sessions(&self, query: &SessionQuery) -> Result<Vec<SessionRecord>, StoreError> {
        self.inner
            .sessions(query)
            .await?
            .into_iter()
            .map(|s| self.open_session(s))
            .collect()
    }

    async fn session_report(&self, since: DateTime<Utc>) -> Result<Vec<SessionDay>, StoreError> {
        self.inner.session_report(since).await
    }
}

#[async_trait]
impl<S: Store> Outbox for Sealed<S> {
    async fn accept(&self, msg: &Message, idempotency: Option<&Idempotency>) -> Result<Accepted, StoreError> {
        self.inner.accept(&self.seal_message(msg), idempotency).await
    }

    async fn outbox_claim(&self, limit: u32, lease: std::time::Duration) -> Result<Vec<Message>, StoreError> {
        self.open_messages(self.inner.outbox_claim(limit, lease).await?)
    }

    async fn outbox_release(&self) -> Result<(), StoreError> {
        self.inner.outbox_release().await
    }

    async fn outbox_done(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        self.inner.outbox_done(ids).await
    }
}

#[async_trait]
impl<S: Store> Webhooks for Sealed<S> {
    async fn webhooks_enqueue(&self, jobs: &[WebhookJob]) -> Result<(), StoreError> {
        let sealed: Vec<WebhookJob> = jobs.iter().map(|j| self.seal_job(j)).collect();
        self.inner.webhooks_enqueue(&sealed).await
    }

    async fn webhooks_due(
        &self,
        limit: u32,
        lease: std::time::Duration,
    ) -> Result<Vec<WebhookJob>, StoreError> {
        let jobs = self.inner.webhooks_due(limit, lease).await?;
        jobs.into_iter().map(|j| self.open_job(j)).collect()
    }

    async fn webhook_settle(&self, id: Uuid, outcome: &WebhookOutcome) -> Result<(), StoreError> {
        self.inner.webhook_settle(id, outcome).await
    }

    async fn webhooks_dead(&self, limit: u32) -> Result<Vec<WebhookJob>, StoreError> {
        let jobs = self.inner.webhooks_dead(limit).await?;
        jobs.into_iter().map(|j| self.open_job(j)).collect()
    }

    async fn webhook_replay(&self, id: Uuid) -> Result<bool, StoreError> {
        self.inner.webhook_replay(id).await
    }
}

/// Tokens hold no personal data: only a hash of each secret.
#[async_trait]
impl<S: Store> Tokens for Sealed<S> {
    async fn put_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        self.inner.put_token(token).await
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>, StoreError> {
        self.inner.token_by_hash(hash).await
    }

    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.inner.tokens().await
    }

    async fn revoke_token(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError> {
        self.inner.revoke_token(id, at).await
    }

    async fn touch_token(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.inner.touch_token(id, at).await
    }
}

/// The audit trail names staff, tokens and channels, never a participant's number
/// ([`AuditEntry`]): kept as it is.
#[async_trait]
impl<S: Store> Audit for Sealed<S> {
    async fn audit_append(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.inner.audit_append(entry).await
    }

    async fn audit_list(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit_list(q).await
    }
}

/// Staff accounts are not programme participants' data: a staff email, role and password hash
/// (only a hash of each session's secret), kept as they are.
#[async_trait]
impl<S: Store> Staff for Sealed<S> {
    async fn user_create(&self, user: &StaffUser) -> Result<bool, StoreError> {
        self.inner.user_create(user).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<StaffUser>, StoreError> {
        self.inner.user_by_email(email).await
    }

    async fn user_by_id(&self, id: Uuid) -> Result<Option<StaffUser>, StoreError> {
        self.inner.user_by_id(id).await
    }

    async fn users(&self) -> Result<Vec<StaffUser>, StoreError> {
        self.inner.users().await
    }

    async fn user_set_password(
        &self,
        id: Uuid,
        password_hash: &str,
        must_change: bool,
    ) -> Result<bool, StoreError> {
        self.inner.user_set_password(id, password_hash, must_change).await
    }

    async fn user_set_role(&self, id: Uuid, role: &str, disabled: bool) -> Result<bool, StoreError> {
        self.inner.user_set_role(id, role, disabled).await
    }

    async fn staff_session_put(&self, session: &StaffSession) -> Result<(), StoreError> {
        self.inner.staff_session_put(session).await
    }

    async fn staff_session_get(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StaffSession>, StoreError> {
        self.inner.staff_session_get(hash, now).await
    }

    async fn staff_session_touch(&self, hash: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        self.inner.staff_session_touch(hash, expires_at).await
    }

    async fn staff_session_delete(&self, hash: &str) -> Result<(), StoreError> {
        self.inner.staff_session_delete(hash).await
    }

    async fn staff_sessions_delete_user(&self, user_id: Uuid) -> Result<u64, StoreError> {
        self.inner.staff_sessions_delete_user(user_id).await
    }
}

/// Flow texts, their audit rows and arrow counters hold no personal data (the session summary
/// reads only unsealed columns: flow, start, slices).
#[async_trait]
impl<S: Store> FlowFiles for Sealed<S> {
    async fn flow_files(&self) -> Result<Vec<FlowFileInfo>, StoreError> {
        self.inner.flow_files().await
    }

    async fn flow_draft(&self, file: &str) -> Result<Option<FlowDraft>, StoreError> {
        self.inner.flow_draft(file).await
    }

    async fn flow_save(
        &self,
        file: &str,
        text: &str,
        base_revision: Option<i64>,
        actor: &str,
    ) -> Result<Saved, StoreError> {
        self.inner.flow_save(file, text, base_revision, actor).await
    }

    async fn flow_set_layout(&self, file: &str, layout: &serde_json::Value) -> Result<bool, StoreError> {
        self.inner.flow_set_layout(file, layout).await
    }

    async fn flow_publish(
        &self,
        file: &str,
        base_revision: Option<i64>,
        actor: &str,
    ) -> Result<Published, StoreError> {
        self.inner.flow_publish(file, base_revision, actor).await
    }

    async fn flow_republish(
        &self,
        file: &str,
        number: i64,
        actor: &str,
    ) -> Result<Option<FlowVersion>, StoreError> {
        self.inner.flow_republish(file, number, actor).await
    }

    async fn flow_restore(
        &self,
        file: &str,
        number: i64,
        actor: &str,
    ) -> Result<Option<FlowDraft>, StoreError> {
        self.inner.flow_restore(file, number, actor).await
    }

    async fn flow_versions(&self, file: &str) -> Result<Vec<FlowVersion>, StoreError> {
        self.inner.flow_versions(file).await
    }

    async fn flow_version(&self, file: &str, number: i64) -> Result<Option<FlowVersion>, StoreError> {
        self.inner.flow_version(file, number).await
    }

    async fn flow_audit(&self, file: &str, limit: u32) -> Result<Vec<FlowAudit>, StoreError> {
        self.inner.flow_audit(file, limit).await
    }

    async fn flow_live_seq(&self) -> Result<i64, StoreError> {
        self.inner.flow_live_seq().await
    }

    async fn flow_live(&self, at: Option<i64>) -> Result<Vec<FlowVersion>, StoreError> {
        self.inner.flow_live(at).await
    }

    async fn flow_import_initial(&self, files: &[(String, String)], actor: &str) -> Result<bool, StoreError> {
        self.inner.flow_import_initial(files, actor).await
    }

    async fn flow_stats_add(&self, rows: &[FlowStat]) -> Result<(), StoreError> {
        self.inner.flow_stats_add(rows).await
    }

    async fn flow_stats(&self, flow: &str, since: NaiveDate) -> Result<Vec<FlowStat>, StoreError> {
        self.inner.flow_stats(flow, since).await
    }

    async fn flow_session_summary(&self, flow: &str, since: DateTime<Utc>) -> Result<(i64, f64), StoreError> {
        self.inner.flow_session_summary(flow, since).await
    }
}

#[async_trait]
impl<S: Store> Contacts for Sealed<S> {
    async fn contact(&self, msisdn: &str) -> Result<Option<Contact>, StoreError> {
        let found = self.inner.contact(&self.key.hash(msisdn)).await?;
        found.map(|c| self.open_contact(c)).transpose()
    }

    async fn contact_put(&self, contact: &Contact) -> Result<bool, StoreError> {
        self.inner.contact_put(&self.seal_contact(contact)).await
    }

    async fn contacts(&self, query: &ContactQuery) -> Result<Vec<Contact>, StoreError> {
        let q = ContactQuery {
            group: query.group.as_deref().map(|g| self.key.hash(g)),
            opted_out: query.opted_out,
            after: query.after.as_deref().map(|a| self.key.hash(a)),
            limit: query.limit,
        };
        self.inner
            .contacts(&q)
            .await?
            .into_iter()
            .map(|c| self.open_contact(c))
            .collect()
    }

    async fn contact_delete(&self, msisdn: &str) -> Result<bool, StoreError> {
        self.inner.contact_delete(&self.key.hash(msisdn)).await
    }
}

/// Definitions made through the API may hold passwords.
#[async_trait]
impl<S: Store> ChannelDefs for Sealed<S> {
    async fn channels_stored(&self) -> Result<Vec<StoredChannel>, StoreError> {
        let rows = self.inner.channels_stored().await?;
        rows.into_iter().map(|c| self.open_channel(c)).collect()
    }

    async fn channel_put(
        &self,
        name: &str,
        definition: &serde_json::Value,
    ) -> Result<StoredChannel, StoreError> {
        let sealed = serde_json::json!({ "sealed": self.key.seal(definition.to_string().as_bytes()) });
        self.open_channel(self.inner.channel_put(name, &sealed).await?)
    }

    async fn channel_restart(&self, name: &str) -> Result<StoredChannel, StoreError> {
        self.open_channel(self.inner.channel_restart(name).await?)
    }

    async fn channel_delete(&self, name: &str) -> Result<bool, StoreError> {
        self.inner.channel_delete(name).await
    }
}

#[async_trait]
impl<S: Store> Subscriptions for Sealed<S> {
    async fn subscribe(&self, sub: &Subscription) -> Result<bool, StoreError> {
        let mut sealed = sub.clone();
        sealed.key = self.key.hash(&sub.key);
        sealed.msisdn = self.key.seal(sub.msisdn.as_bytes());
        self.inner.subscribe(&sealed).await
    }

    async fn unsubscribe(&self, key: &str, set: &str) -> Result<bool, StoreError> {
        self.inner.unsubscribe(&self.key.hash(key), set).await
    }

    async fn subscriptions_of(&self, key: &str) -> Result<Vec<Subscription>, StoreError> {
        let subs = self.inner.subscriptions_of(&self.key.hash(key)).await?;
        subs.into_iter()
            .map(|s| self.open_subscription(s, Some(key)))
            .collect()
    }

    async fn subscriptions_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: std::time::Duration,
    ) -> Result<Vec<Subscription>, StoreError> {
        let subs = self.inner.subscriptions_due(now, limit, lease).await?;
        subs.into_iter()
            .map(|s| self.open_subscription(s, None))
            .collect()
    }

    async fn subscription_advance(&self, step: &Advance, send: Option<&Message>) -> Result<bool, StoreError> {
        let sealed = send.map(|m| self.seal_message(m));
        self.inner.subscription_advance(step, sealed.as_ref()).await
    }

    async fn subscription_counts(&self, behind: DateTime<Utc>) -> Result<Vec<SubscriptionCount>, StoreError> {
        self.inner.subscription_counts(behind).await
    }
}

#[async_trait]
impl<S: Store> FlowRuns for Sealed<S> {
    async fn run_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let body = self.inner.run_get(&self.key.hash(key)).await?;
        body.map(|b| self.key.open_text(&b)).transpose()
    }

    async fn run_put(
        &self,
        key: &str,
        body: &str,
        wait_until: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let sealed = self.key.seal(body.as_bytes());
        self.inner.run_put(&self.key.hash(key), &sealed, wait_until).await
    }

    async fn run_delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.run_delete(&self.key.hash(key)).await
    }

    async fn runs_due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<(String, String)>, StoreError> {
        // The key comes back hashed; the state holds what the runner needs to find it again.
        let due = self.inner.runs_due(now, limit).await?;
        due.into_iter()
            .map(|(k, b)| Ok((k, self.key.open_text(&b)?)))
            .collect()
    }
}

/// The archive gets the rows as stored: sealed.
#[async_trait]
impl<S: Store> Retention for Sealed<S> {
    async fn purge(
        &self,
        channel: &str,
        before: DateTime<Utc>,
        limit: u32,
        archive: Option<&ArchiveSink<'_>>,
    ) -> Result<Purged, StoreError> {
        self.inner.purge(channel, before, limit, archive).await
    }
}

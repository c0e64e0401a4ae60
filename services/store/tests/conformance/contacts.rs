//! Contacts: fields, groups, opt-out, optimistic versions.

use super::*;

async fn contacts_keep_fields_groups_and_opt_out(store: Arc<dyn Store>) {
    use seedgate_runtime::store::{Contact, ContactQuery};
    let now = Utc::now();
    let mut a = Contact::new("+27820000201", now);
    a.name = Some("Thandi".into());
    a.language = Some("zul".into());
    a.fields.insert("edd".into(), "2027-03-01".into());
    a.groups.insert("pregnant".into());
    assert!(store.contact_put(&a).await.unwrap());
    // A second writer that also thinks the contact is new loses.
    assert!(!store.contact_put(&a).await.unwrap());
    let read = store.contact("+27820000201").await.unwrap().unwrap();
    assert_eq!(read.version, 1);
    assert_eq!(
        (read.name.as_deref(), read.fields.get("edd")),
        (Some("Thandi"), Some(&"2027-03-01".into()))
    );
    // Optimistic writes: the version read must still be the stored one.
    let mut b = read.clone();
    b.groups.insert("registered".into());
    b.opted_out_at = Some(now);
    assert!(store.contact_put(&b).await.unwrap());
    assert!(
        !store.contact_put(&read).await.unwrap(),
        "a stale version is refused"
    );
    let mut other = Contact::new("+27820000202", now);
    other.groups.insert("registered".into());
    assert!(store.contact_put(&other).await.unwrap());
    let q = |group: Option<&str>, opted_out: Option<bool>, after: Option<&str>, limit| ContactQuery {
        group: group.map(str::to_string),
        opted_out,
        after: after.map(str::to_string),
        limit,
    };
    // Sorted here: a sealed store lists contacts in the order of their keyed hashes.
    let msisdns = |cs: Vec<Contact>| {
        let mut v = cs.into_iter().map(|c| c.msisdn).collect::<Vec<_>>();
        v.sort();
        v
    };
    assert_eq!(
        msisdns(
            store
                .contacts(&q(Some("registered"), None, None, 10))
                .await
                .unwrap()
        ),
        ["+27820000201", "+27820000202"]
    );
    assert_eq!(
        msisdns(
            store
                .contacts(&q(Some("pregnant"), None, None, 10))
                .await
                .unwrap()
        ),
        ["+27820000201"]
    );
    assert_eq!(
        msisdns(store.contacts(&q(None, Some(true), None, 10)).await.unwrap()),
        ["+27820000201"]
    );
    // Pages of one, each after the last one seen, visit every contact once.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.contacts(&q(None, None, after.as_deref(), 1)).await.unwrap();
        let Some(last) = page.last() else { break };
        assert_eq!(page.len(), 1);
        after = Some(last.msisdn.clone());
        seen.push(last.msisdn.clone());
        assert!(seen.len() <= 2, "paging does not end: {seen:?}");
    }
    seen.sort();
    assert_eq!(seen, ["+27820000201", "+27820000202"]);
    let stored = store.contact("+27820000201").await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert!(stored.opted_out_at.is_some());
    assert!(store.contact_delete("+27820000201").await.unwrap());
    assert!(!store.contact_delete("+27820000201").await.unwrap());
    assert!(store.contact("+27820000201").await.unwrap().is_none());
    assert_eq!(
        msisdns(
            store
                .contacts(&q(Some("registered"), None, None, 10))
                .await
                .unwrap()
        ),
        ["+27820000202"],
        "a deleted contact leaves its groups"
    );
}

conformance!(contacts_keep_fields_groups_and_opt_out,);

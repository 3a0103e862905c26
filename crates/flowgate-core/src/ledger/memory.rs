//! The route ledger's ports in memory: the unit tests run every rule over
//! it, as the Durable Object runs them over SQL.

use std::collections::{BTreeMap, HashMap};

use super::{
    Counter, DeliveryKey, DeliveryRow, DeliveryState, DeliveryStore, HandshakeStore, KeptSecret, SeenEntry, SeenStore,
};

/// A ledger in memory, for unit tests and native tools.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    proofs: HashMap<String, SeenEntry>,
    deliveries: Vec<SeenEntry>,
    window: Option<i64>,
    kept: HashMap<String, KeptSecret>,
    rows: BTreeMap<DeliveryKey, (DeliveryRow, Option<String>)>,
    counters: HashMap<Counter, i64>,
}

impl MemoryLedger {
    /// A counter's value.
    pub fn counter(&self, counter: Counter) -> i64 {
        self.counters.get(&counter).copied().unwrap_or(0)
    }

    /// The copy kept of a delivery's message.
    pub fn copy_of(&self, key: &DeliveryKey) -> Option<&str> {
        self.rows.get(key).and_then(|(_, m)| m.as_deref())
    }
}

impl SeenStore for MemoryLedger {
    type Error = std::convert::Infallible;
    fn by_proof(&mut self, proof: &str, now: i64) -> Result<Option<SeenEntry>, Self::Error> {
        Ok(self.proofs.get(proof).filter(|e| e.expires >= now).cloned())
    }
    fn by_delivery(&mut self, delivery_id: &str, body: &str, now: i64) -> Result<Option<SeenEntry>, Self::Error> {
        Ok(self
            .deliveries
            .iter()
            .find(|e| e.delivery_id.as_deref() == Some(delivery_id) && e.body == body && e.expires >= now)
            .cloned())
    }
    fn delivery_with_other_body(&mut self, delivery_id: &str, body: &str, now: i64) -> Result<bool, Self::Error> {
        Ok(self
            .deliveries
            .iter()
            .any(|e| e.delivery_id.as_deref() == Some(delivery_id) && e.body != body && e.expires >= now))
    }
    fn put_proof(&mut self, proof: &str, entry: SeenEntry) -> Result<(), Self::Error> {
        self.proofs.insert(proof.to_owned(), entry);
        Ok(())
    }
    fn put_delivery(&mut self, entry: SeenEntry) -> Result<(), Self::Error> {
        self.deliveries.retain(|e| !(e.delivery_id == entry.delivery_id && e.body == entry.body));
        self.deliveries.push(entry);
        Ok(())
    }
    fn forget(&mut self, flowgate_id: &str) -> Result<(), Self::Error> {
        self.proofs.retain(|_, e| e.flowgate_id != flowgate_id);
        self.deliveries.retain(|e| e.flowgate_id != flowgate_id);
        Ok(())
    }
    fn confirm(&mut self, flowgate_id: &str) -> Result<(), Self::Error> {
        for e in self.proofs.values_mut().chain(self.deliveries.iter_mut()) {
            if e.flowgate_id == flowgate_id {
                e.pending_until = 0;
            }
        }
        Ok(())
    }
}

impl HandshakeStore for MemoryLedger {
    type Error = std::convert::Infallible;
    fn window(&mut self) -> Result<Option<i64>, Self::Error> {
        Ok(self.window)
    }
    fn set_window(&mut self, until: Option<i64>) -> Result<(), Self::Error> {
        self.window = until;
        Ok(())
    }
    fn kept(&mut self, name: &str) -> Result<Option<KeptSecret>, Self::Error> {
        Ok(self.kept.get(name).cloned())
    }
    fn put_kept(&mut self, name: &str, secret: KeptSecret) -> Result<(), Self::Error> {
        self.kept.entry(name.to_owned()).or_insert(secret);
        Ok(())
    }
    fn delete_kept(&mut self, name: &str) -> Result<(), Self::Error> {
        self.kept.remove(name);
        Ok(())
    }
}

impl DeliveryStore for MemoryLedger {
    fn row(&mut self, key: &DeliveryKey) -> Result<Option<DeliveryRow>, Self::Error> {
        Ok(self.rows.get(key).map(|(r, m)| DeliveryRow { keeps_copy: m.is_some(), ..r.clone() }))
    }
    fn put_row(&mut self, row: &DeliveryRow) -> Result<(), Self::Error> {
        let copy = self.rows.remove(&row.key).and_then(|(_, m)| m);
        self.rows.insert(row.key.clone(), (row.clone(), copy));
        Ok(())
    }
    fn set_copy(&mut self, key: &DeliveryKey, message: Option<&str>) -> Result<(), Self::Error> {
        // As SQL's UPDATE: only a row that exists keeps a copy.
        if let Some(entry) = self.rows.get_mut(key) {
            entry.1 = message.map(str::to_owned);
        }
        Ok(())
    }
    fn delete_row(&mut self, key: &DeliveryKey) -> Result<(), Self::Error> {
        self.rows.remove(key);
        Ok(())
    }
    fn has_rows_of(&mut self, id: &str) -> Result<bool, Self::Error> {
        Ok(self.rows.keys().any(|k| k.id == id))
    }
    fn overdue(&mut self, now: i64, limit: usize) -> Result<Vec<(DeliveryRow, String)>, Self::Error> {
        Ok(self
            .rows
            .values()
            .filter_map(|(r, m)| Some((r, m.as_ref()?)))
            .filter(|(r, _)| !r.state.is_final() && r.due.is_some_and(|d| d <= now) && r.lease_until <= now)
            .take(limit)
            .map(|(r, m)| (DeliveryRow { keeps_copy: true, ..r.clone() }, m.clone()))
            .collect())
    }
    fn bump(&mut self, counter: Counter, by: i64) -> Result<(), Self::Error> {
        *self.counters.entry(counter).or_default() += by;
        Ok(())
    }
    fn counters(&mut self) -> Result<Vec<(Counter, i64)>, Self::Error> {
        Ok(self.counters.iter().map(|(c, n)| (*c, *n)).collect())
    }
    fn states(&mut self) -> Result<Vec<(DeliveryState, i64)>, Self::Error> {
        Ok(DeliveryState::ALL
            .into_iter()
            .map(|s| (s, self.rows.values().filter(|(r, _)| r.state == s).count() as i64))
            .collect())
    }
}

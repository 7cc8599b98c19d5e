//! The customer store behind data-directed routing: profiles looked up by phone number or
//! customer id, loaded from CSV text (the caller reads the file) or upserted through the API.

use std::collections::{BTreeMap, HashMap};

use parking_lot::RwLock;

/// One customer: an id, phone numbers and free fields (tier, language, segment, open case ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerProfile {
    /// Customer id.
    pub id: String,
    /// Phone numbers (E.164) the customer calls from.
    pub phones: Vec<String>,
    /// Every other column.
    pub fields: BTreeMap<String, String>,
}

/// A CSV problem, with its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CustomerCsvError {
    /// 1-based line of the file.
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

/// Customers by id and by phone. Reads take a shared lock; upserts are rare.
#[derive(Debug, Default)]
pub struct CustomerStore {
    inner: RwLock<Inner>,
}

/// A copy taken under the read lock.
impl Clone for CustomerStore {
    fn clone(&self) -> Self {
        CustomerStore { inner: RwLock::new(self.inner.read().clone()) }
    }
}

#[derive(Clone, Debug, Default)]
struct Inner {
    by_id: HashMap<String, CustomerProfile>,
    id_by_phone: HashMap<String, String>,
}

impl CustomerStore {
    /// Loads CSV text with a header; the columns `customer_id` (required) and `phone`
    /// (optional, several numbers separated by `;`) are keys, every other column a field.
    pub fn from_csv(text: &str) -> Result<CustomerStore, CustomerCsvError> {
        let mut reader =
            csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| CustomerCsvError { line: 1, message: e.to_string() })?
            .clone();
        let id_col = headers.iter().position(|h| h == "customer_id").ok_or_else(|| {
            CustomerCsvError { line: 1, message: "the header has no customer_id column".into() }
        })?;
        let phone_col = headers.iter().position(|h| h == "phone");
        let store = CustomerStore::default();
        for record in reader.records() {
            let record = record.map_err(|e| CustomerCsvError {
                line: e.position().map_or(0, |p| p.line()),
                message: e.to_string(),
            })?;
            let line = record.position().map_or(0, |p| p.line());
            let id = record.get(id_col).unwrap_or_default().to_string();
            if id.is_empty() {
                return Err(CustomerCsvError { line, message: "customer_id is empty".into() });
            }
            let phones = phone_col
                .and_then(|c| record.get(c))
                .map(|p| {
                    p.split(';')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            let fields = headers
                .iter()
                .zip(record.iter())
                .enumerate()
                .filter(|(i, _)| *i != id_col && Some(*i) != phone_col)
                .filter(|(_, (_, v))| !v.is_empty())
                .map(|(_, (h, v))| (h.to_string(), v.to_string()))
                .collect();
            store.upsert(CustomerProfile { id, phones, fields });
        }
        Ok(store)
    }

    /// Adds or replaces a customer.
    pub fn upsert(&self, profile: CustomerProfile) {
        let mut inner = self.inner.write();
        if let Some(old) = inner.by_id.remove(&profile.id) {
            for phone in &old.phones {
                inner.id_by_phone.remove(phone);
            }
        }
        for phone in &profile.phones {
            inner.id_by_phone.insert(phone.clone(), profile.id.clone());
        }
        inner.by_id.insert(profile.id.clone(), profile);
    }

    /// The customer with this id.
    pub fn by_id(&self, id: &str) -> Option<CustomerProfile> {
        self.inner.read().by_id.get(id).cloned()
    }

    /// The customer who calls from this number.
    pub fn by_phone(&self, phone: &str) -> Option<CustomerProfile> {
        let inner = self.inner.read();
        inner.id_by_phone.get(phone).and_then(|id| inner.by_id.get(id)).cloned()
    }

    /// Number of customers.
    pub fn len(&self) -> usize {
        self.inner.read().by_id.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_and_finds_by_phone_and_id() {
        let store = CustomerStore::from_csv(
            "customer_id,phone,tier,language\nC1,+33123;+33456,gold,fr\nC2,,basic,\n",
        )
        .expect("csv");
        assert_eq!(store.len(), 2);
        let c1 = store.by_phone("+33456").expect("by phone");
        assert_eq!(c1.id, "C1");
        assert_eq!(c1.fields.get("tier").map(String::as_str), Some("gold"));
        assert_eq!(store.by_id("C2").expect("by id").fields.get("language"), None);
    }

    #[test]
    fn errors_name_the_line() {
        let err = CustomerStore::from_csv("customer_id,tier\nC1,gold\n,basic\n").unwrap_err();
        assert_eq!(err.to_string(), "line 3: customer_id is empty");
        let err = CustomerStore::from_csv("id,tier\n").unwrap_err();
        assert_eq!(err.line, 1);
    }
}

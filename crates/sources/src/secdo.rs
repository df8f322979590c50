//! The SECDO v2 enrichment API (`POST /publicapi/v2/enrich_with_secdo/`): one flat JSON
//! object per alert, describing a network connection or a suspicious file.
//!
//! SECDO's own examples send numbers as strings (`"timestamp": "1493209485000"`,
//! `"destination_port": "80"`), so timestamps and ports are accepted as JSON numbers or
//! strings of digits. Severity and type names are matched case-insensitively. Fields
//! outside the API are kept in `raw`; the `apikey` credential never is.

use crate::fields::{self, Errors, MAX_STRING_BYTES, Need, quote};
use crate::{AlertParser, SourceError};
use chrono::{DateTime, Utc};
use riposte_model::{Alert, AlertId, AlertSource, Observables, Severity, Target};
use serde_json::{Map, Value};
use std::net::{IpAddr, SocketAddr};

/// The body field that carries the SECDO API key.
const API_KEY_FIELD: &str = "apikey";

/// The API key a SECDO payload authenticates with (its `apikey` field), if present.
pub fn secdo_api_key(payload: &Value) -> Option<&str> {
    payload
        .get(API_KEY_FIELD)?
        .as_str()
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// The kinds of event the API accepts (its `type` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventType {
    /// A connection from the LAN to the internet (SECDO's default direction).
    Outgoing,
    /// A connection from the internet to the LAN or DMZ.
    Incoming,
    /// A suspicious file on an endpoint.
    SuspiciousFile,
}

impl EventType {
    const ALL: [EventType; 3] = [
        EventType::Outgoing,
        EventType::Incoming,
        EventType::SuspiciousFile,
    ];

    fn name(self) -> &'static str {
        match self {
            EventType::Outgoing => "OutgoingConnectionEvent",
            EventType::Incoming => "IncomingConnectionEvent",
            EventType::SuspiciousFile => "SuspiciousFileEvent",
        }
    }
}

/// Parses SECDO v2 enrichment requests.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecdoParser;

/// What a payload says beyond the fields every type shares.
enum Details {
    Network {
        source_ip: IpAddr,
        source_port: Option<u16>,
        destination_ip: IpAddr,
        destination_port: u16,
    },
    File {
        agent_ip: IpAddr,
        file_path: String,
    },
}

impl AlertParser for SecdoParser {
    fn source(&self) -> AlertSource {
        AlertSource::Secdo
    }

    fn parse(
        &self,
        payload: &Value,
        received_at: DateTime<Utc>,
    ) -> Result<Vec<Alert>, SourceError> {
        let obj = payload.as_object().ok_or(SourceError::NotAnObject)?;
        let mut errs = Errors::default();
        let req = Need::Required("mandatory");
        let text = |errs: &mut Errors, name: &str, need| {
            fields::string(errs, name, obj.get(name), need, MAX_STRING_BYTES)
        };

        let company = text(&mut errs, "company", req);
        let apikey = api_key(&mut errs, obj.get(API_KEY_FIELD));
        let time = fields::epoch_millis(
            &mut errs,
            "timestamp",
            obj.get("timestamp"),
            req,
            received_at,
        );
        let vendor = text(&mut errs, "vendor", req);
        let product = text(&mut errs, "product", req);
        let event_type = event_type(&mut errs, obj.get("type"));
        let severity = severity(&mut errs, obj.get("severity"));
        let event_id =
            fields::string_or_integer(&mut errs, "event_id", obj.get("event_id"), Need::Optional);
        let details = details(&mut errs, obj, event_type);

        let (
            Some(_company),
            Some(()),
            Some(time),
            Some(vendor),
            Some(product),
            Some(event_type),
            Some(details),
        ) = (company, apikey, time, vendor, product, event_type, details)
        else {
            return Err(errs.into_error());
        };
        errs.check()?;

        let source = vendor_product(&vendor, &product);
        let (title, target_ip, observables) = match details {
            Details::Network {
                source_ip,
                source_port,
                destination_ip,
                destination_port,
            } => {
                let (direction, lan_host) = match event_type {
                    EventType::Incoming => ("Incoming", destination_ip),
                    _ => ("Outgoing", source_ip),
                };
                let title = format!(
                    "{direction} connection {} → {} ({source})",
                    endpoint(source_ip, source_port),
                    endpoint(destination_ip, Some(destination_port)),
                );
                let observables = Observables {
                    source_ip: Some(source_ip),
                    source_port,
                    destination_ip: Some(destination_ip),
                    destination_port: Some(destination_port),
                    ..Observables::default()
                };
                (title, lan_host, observables)
            }
            Details::File {
                agent_ip,
                file_path,
            } => {
                let title = format!("Suspicious file {file_path} on {agent_ip} ({source})");
                let observables = Observables {
                    file_path: Some(file_path),
                    ..Observables::default()
                };
                (title, agent_ip, observables)
            }
        };

        Ok(vec![Alert {
            id: AlertId::new(),
            source: AlertSource::Secdo,
            vendor,
            product,
            vendor_event_id: event_id,
            title,
            description: String::new(),
            severity: severity.unwrap_or(Severity::Medium),
            finding_type: event_type.name().to_string(),
            time,
            // SECDO sends one event time (`timestamp`), no observation window.
            first_seen: None,
            last_seen: None,
            received_at,
            target: Target {
                ips: vec![target_ip],
                ..Target::default()
            },
            observables,
            raw: without_api_key(obj),
        }])
    }
}

/// The mandatory `apikey`, checked for presence and type only: never echoed back.
fn api_key(errs: &mut Errors, value: Option<&Value>) -> Option<()> {
    match fields::present(errs, API_KEY_FIELD, value, Need::Required("mandatory"))? {
        Value::String(s) if !s.trim().is_empty() => Some(()),
        Value::String(_) => {
            errs.push(API_KEY_FIELD, "is empty (mandatory)");
            None
        }
        other => {
            let problem = format!("must be a string, got {}", fields::json_type(other));
            errs.push(API_KEY_FIELD, problem);
            None
        }
    }
}

/// The `type` field; mandatory, matched case-insensitively.
fn event_type(errs: &mut Errors, value: Option<&Value>) -> Option<EventType> {
    const EXPECTED: &str =
        "OutgoingConnectionEvent, IncomingConnectionEvent or SuspiciousFileEvent";
    let why = format!("mandatory; one of {EXPECTED}");
    let name = fields::string(errs, "type", value, Need::Required(&why), MAX_STRING_BYTES)?;
    let found = EventType::ALL
        .into_iter()
        .find(|t| t.name().eq_ignore_ascii_case(&name));
    if found.is_none() {
        errs.push(
            "type",
            format!("unknown type {}; expected {EXPECTED}", quote(&name)),
        );
    }
    found
}

/// The optional `severity` field: LOW, MEDIUM or HIGH, any case.
fn severity(errs: &mut Errors, value: Option<&Value>) -> Option<Severity> {
    let name = fields::string(errs, "severity", value, Need::Optional, MAX_STRING_BYTES)?;
    let severity = match name.to_ascii_uppercase().as_str() {
        "LOW" => Severity::Low,
        "MEDIUM" => Severity::Medium,
        "HIGH" => Severity::High,
        _ => {
            errs.push(
                "severity",
                format!(
                    "must be LOW, MEDIUM or HIGH (any case), got {}",
                    quote(&name)
                ),
            );
            return None;
        }
    };
    Some(severity)
}

/// The type-specific fields. With no valid type, fields that are present are still
/// checked, but none is reported missing (which ones are mandatory is unknown).
fn details(
    errs: &mut Errors,
    obj: &Map<String, Value>,
    event_type: Option<EventType>,
) -> Option<Details> {
    let why = event_type.map(|t| format!("mandatory for {}", t.name()));
    let need = match &why {
        Some(why) => Need::Required(why),
        None => Need::Optional,
    };
    let network = |errs: &mut Errors, need| {
        let source_ip = fields::ip(errs, "source_ip", obj.get("source_ip"), need);
        let source_port = fields::port(
            errs,
            "source_port",
            obj.get("source_port"),
            Need::Optional,
            true,
        );
        let destination_ip = fields::ip(errs, "destination_ip", obj.get("destination_ip"), need);
        let destination_port = fields::port(
            errs,
            "destination_port",
            obj.get("destination_port"),
            need,
            true,
        );
        Some(Details::Network {
            source_ip: source_ip?,
            source_port,
            destination_ip: destination_ip?,
            destination_port: destination_port?,
        })
    };
    let file = |errs: &mut Errors, need| {
        let agent_ip = fields::ip(errs, "agent_ip", obj.get("agent_ip"), need);
        let file_path = fields::string(
            errs,
            "file_path",
            obj.get("file_path"),
            need,
            MAX_STRING_BYTES,
        );
        Some(Details::File {
            agent_ip: agent_ip?,
            file_path: file_path?,
        })
    };
    match event_type {
        Some(EventType::Outgoing | EventType::Incoming) => network(errs, need),
        Some(EventType::SuspiciousFile) => file(errs, need),
        None => {
            network(errs, Need::Optional);
            file(errs, Need::Optional);
            None
        }
    }
}

/// `ip:port` (IPv6 bracketed), or the bare IP when the port is unknown.
fn endpoint(ip: IpAddr, port: Option<u16>) -> String {
    match port {
        Some(port) => SocketAddr::new(ip, port).to_string(),
        None => ip.to_string(),
    }
}

/// "Check Point FireWall-1 GX", without repeating a vendor the product name starts with.
fn vendor_product(vendor: &str, product: &str) -> String {
    let repeats = product
        .get(..vendor.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(vendor));
    if repeats {
        product.to_string()
    } else {
        format!("{vendor} {product}")
    }
}

/// The payload as received, minus the API key (a credential is never stored).
fn without_api_key(obj: &Map<String, Value>) -> Value {
    let mut raw = obj.clone();
    raw.retain(|k, _| !k.eq_ignore_ascii_case(API_KEY_FIELD));
    Value::Object(raw)
}

#[cfg(test)]
mod tests;

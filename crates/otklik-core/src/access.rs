//! Who may see and change what: the hierarchy of territories and organisations, actors and their scopes.

use std::collections::{HashMap, HashSet};

use crate::model::{Grant, Id, Incident, Organisation, Role, Territory, TerritoryLevel};
use crate::store::TerritoryRef;

/// The territory and organisation trees, indexed for scope decisions.
#[derive(Debug, Clone, Default)]
pub struct Hierarchy {
    territories: HashMap<String, Territory>,
    orgs: HashMap<String, Organisation>,
    org_children: HashMap<String, Vec<String>>,
}

impl Hierarchy {
    pub fn new(territories: &[Territory], orgs: &[Organisation]) -> Self {
        let mut org_children: HashMap<String, Vec<String>> = HashMap::new();
        for o in orgs {
            if let Some(p) = &o.parent {
                org_children.entry(p.clone()).or_default().push(o.code.clone());
            }
        }
        Hierarchy {
            territories: territories.iter().map(|t| (t.code.clone(), t.clone())).collect(),
            orgs: orgs.iter().map(|o| (o.code.clone(), o.clone())).collect(),
            org_children,
        }
    }

    pub fn territory(&self, code: &str) -> Option<&Territory> {
        self.territories.get(code)
    }

    /// The territory with its level, for filters.
    pub fn territory_ref(&self, code: &str) -> Option<TerritoryRef> {
        self.territories.get(code).map(|t| TerritoryRef::new(t.level, code))
    }

    /// Every territory code.
    pub fn territory_codes(&self) -> Vec<String> {
        let mut v: Vec<String> = self.territories.keys().cloned().collect();
        v.sort();
        v
    }

    /// Organisations whose territory is exactly `territory`, in code order.
    pub fn orgs_at(&self, territory: &str) -> Vec<&Organisation> {
        let mut v: Vec<&Organisation> = self.orgs.values().filter(|o| o.territory == territory).collect();
        v.sort_by(|a, b| a.code.cmp(&b.code));
        v
    }

    /// Every organisation, in no particular order.
    pub fn organisations(&self) -> impl Iterator<Item = &Organisation> {
        self.orgs.values()
    }

    pub fn org(&self, code: &str) -> Option<&Organisation> {
        self.orgs.get(code)
    }

    /// The region and first-level municipality a territory belongs to (itself included).
    pub fn region_and_municipality(&self, code: &str) -> (Option<String>, Option<String>) {
        let (mut region, mut municipality) = (None, None);
        let mut cur = self.territories.get(code);
        let mut guard = 0;
        while let Some(t) = cur {
            match t.level {
                TerritoryLevel::Region => region = Some(t.code.clone()),
                TerritoryLevel::Municipality => municipality = Some(t.code.clone()),
                TerritoryLevel::Settlement => {}
            }
            guard += 1;
            if guard > 16 {
                break;
            }
            cur = t.parent.as_deref().and_then(|p| self.territories.get(p));
        }
        (region, municipality)
    }

    /// Whether `code` is `ancestor` or lies below it.
    pub fn territory_within(&self, code: &str, ancestor: &str) -> bool {
        let mut cur = Some(code);
        let mut guard = 0;
        while let Some(c) = cur {
            if c == ancestor {
                return true;
            }
            guard += 1;
            if guard > 16 {
                return false;
            }
            cur = self.territories.get(c).and_then(|t| t.parent.as_deref());
        }
        false
    }

    /// The organisation and all organisations below it.
    pub fn org_subtree(&self, code: &str) -> Vec<String> {
        let mut out = vec![code.to_string()];
        let mut seen: HashSet<String> = out.iter().cloned().collect();
        let mut i = 0;
        while i < out.len() {
            if let Some(children) = self.org_children.get(&out[i]) {
                for c in children {
                    if seen.insert(c.clone()) {
                        out.push(c.clone());
                    }
                }
            }
            i += 1;
        }
        out
    }
}

/// Who is acting: a user with grants, or the system.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    pub user_id: Option<Id>,
    pub name: String,
    pub grants: Vec<Grant>,
}

/// Row-level filter a store applies to incident queries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScopeFilter {
    /// No restriction.
    pub all: bool,
    /// Incidents in one of these territories.
    pub territories: Vec<TerritoryRef>,
    /// Incidents whose responsible organisation is one of these.
    pub orgs: Vec<String>,
}

impl ScopeFilter {
    pub fn is_empty(&self) -> bool {
        !self.all && self.territories.is_empty() && self.orgs.is_empty()
    }
}

impl Actor {
    /// The system itself (intake, timers): unrestricted.
    pub fn system() -> Self {
        Actor { user_id: None, name: "system".into(), grants: vec![Grant { role: Role::Admin, node: None }] }
    }

    pub fn is_admin(&self) -> bool {
        self.grants.iter().any(|g| g.role == Role::Admin && g.node.is_none())
    }

    pub fn roles(&self) -> Vec<Role> {
        let mut r: Vec<Role> = self.grants.iter().map(|g| g.role).collect();
        r.sort();
        r.dedup();
        r
    }

    /// The rows this actor may see.
    pub fn scope(&self, h: &Hierarchy) -> ScopeFilter {
        let mut f = ScopeFilter::default();
        for g in &self.grants {
            match (&g.node, g.role.bound_to_organisation()) {
                (None, _) => {
                    if g.role == Role::Admin {
                        f.all = true;
                    }
                }
                (Some(n), false) => f.territories.extend(h.territory_ref(n)),
                (Some(n), true) => f.orgs.extend(h.org_subtree(n)),
            }
        }
        f.territories.sort();
        f.territories.dedup();
        f.orgs.sort();
        f.orgs.dedup();
        f
    }

    /// Whether one grant reaches this incident.
    pub fn grant_covers(g: &Grant, incident: &Incident, h: &Hierarchy) -> bool {
        match (&g.node, g.role.bound_to_organisation()) {
            (None, _) => g.role == Role::Admin,
            (Some(n), false) => [&incident.region, &incident.municipality, &incident.territory]
                .iter()
                .any(|c| c.as_deref() == Some(n.as_str())),
            (Some(n), true) => incident.org.as_deref().is_some_and(|o| h.org_subtree(n).iter().any(|s| s == o)),
        }
    }

    /// The roles this actor holds over this incident.
    pub fn roles_over(&self, incident: &Incident, h: &Hierarchy) -> Vec<Role> {
        let mut r: Vec<Role> =
            self.grants.iter().filter(|g| Self::grant_covers(g, incident, h)).map(|g| g.role).collect();
        r.sort();
        r.dedup();
        r
    }

    pub fn can_see(&self, incident: &Incident, h: &Hierarchy) -> bool {
        self.grants.iter().any(|g| Self::grant_covers(g, incident, h)) || self.co_executes(incident, h)
    }

    /// Whether one of the actor's organisations co-executes the incident (it sees the incident and
    /// may contribute; the lead organisation answers).
    pub fn co_executes(&self, incident: &Incident, h: &Hierarchy) -> bool {
        !incident.co_orgs.is_empty()
            && self.grants.iter().filter(|g| g.role != Role::Viewer && g.role.bound_to_organisation()).any(|g| {
                g.node.as_deref().is_some_and(|n| {
                    let subtree = h.org_subtree(n);
                    incident.co_orgs.iter().any(|o| subtree.iter().any(|s| s == o))
                })
            })
    }

    /// Whether this actor may route work to `org`: organisations in a region where the actor
    /// holds a territorial or organisational grant (administrators anywhere).
    pub fn may_route_to(&self, org: &Organisation, h: &Hierarchy) -> bool {
        if self.is_admin() {
            return true;
        }
        let (org_region, _) = h.region_and_municipality(&org.territory);
        self.grants.iter().filter(|g| g.role != Role::Viewer).any(|g| {
            let node_territory = match (&g.node, g.role.bound_to_organisation()) {
                (Some(n), false) => Some(n.clone()),
                (Some(n), true) => h.org(n).map(|o| o.territory.clone()),
                (None, _) => None,
            };
            node_territory.is_some_and(|t| h.region_and_municipality(&t).0 == org_region && org_region.is_some())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Channel, OrgKind};
    use crate::status::Status;
    use chrono::Utc;

    fn t(code: &str, level: TerritoryLevel, parent: Option<&str>) -> Territory {
        Territory {
            code: code.into(),
            name: code.into(),
            full_name: code.into(),
            level,
            parent: parent.map(Into::into),
            zone: "Europe/Moscow".into(),
            oktmo: None,
            aliases: vec![],
        }
    }

    fn o(code: &str, territory: &str, parent: Option<&str>) -> Organisation {
        Organisation {
            code: code.into(),
            name: code.into(),
            kind: OrgKind::Administration,
            territory: territory.into(),
            parent: parent.map(Into::into),
            sectors: vec![],
            working_hours: None,
        }
    }

    fn incident(region: &str, muni: Option<&str>, org: Option<&str>) -> Incident {
        let now = Utc::now();
        Incident {
            id: 1,
            status: Status::New,
            kind: None,
            category: None,
            territory: muni.map(Into::into),
            region: Some(region.into()),
            municipality: muni.map(Into::into),
            org: org.map(Into::into),
            suggested_org: None,
            route_note: None,
            assignee: None,
            urgent: false,
            sentiment: None,
            confidence: None,
            channel: Channel::Vk,
            source: "s".into(),
            summary: String::new(),
            created_at: now,
            updated_at: now,
            first_answer_due: None,
            resolution_due: None,
            first_answered_at: None,
            closed_at: None,
            rating: None,
            first_answer_seconds: None,
            first_answer_working_seconds: None,
            closure_seconds: None,
            closure_working_seconds: None,
            deadline_policy: None,
            paused_at: None,
            warned_due: None,
            breached_due: None,
            escalation_level: 0,
            clock_started_at: None,
            registration_due: None,
            redirect_due: None,
            extended_at: None,
            paused_seconds: 0,
            co_orgs: vec![],
            tags: vec![],
            version: 1,
        }
    }

    fn hierarchy() -> Hierarchy {
        Hierarchy::new(
            &[
                t("lip", TerritoryLevel::Region, None),
                t("yelets", TerritoryLevel::Municipality, Some("lip")),
                t("gryazi", TerritoryLevel::Municipality, Some("lip")),
                t("gryazi-town", TerritoryLevel::Settlement, Some("gryazi")),
                t("spb", TerritoryLevel::Region, None),
            ],
            &[o("roads", "lip", None), o("roads-north", "lip", Some("roads")), o("spb-roads", "spb", None)],
        )
    }

    #[test]
    fn territory_grants_cover_their_subtree_only() {
        let h = hierarchy();
        let curator = Actor {
            user_id: Some(1),
            name: "c".into(),
            grants: vec![Grant { role: Role::MunicipalOperator, node: Some("yelets".into()) }],
        };
        assert!(curator.can_see(&incident("lip", Some("yelets"), None), &h));
        assert!(!curator.can_see(&incident("lip", Some("gryazi"), None), &h));
        assert!(!curator.can_see(&incident("lip", None, None), &h));
        assert_eq!(h.region_and_municipality("gryazi-town"), (Some("lip".into()), Some("gryazi".into())));
        assert!(h.territory_within("gryazi-town", "lip"));
        assert!(!h.territory_within("gryazi-town", "spb"));
    }

    #[test]
    fn organisation_grants_cover_child_organisations() {
        let h = hierarchy();
        let head = Actor {
            user_id: Some(2),
            name: "h".into(),
            grants: vec![Grant { role: Role::OrgHead, node: Some("roads".into()) }],
        };
        assert!(head.can_see(&incident("lip", None, Some("roads-north")), &h));
        assert!(!head.can_see(&incident("lip", None, Some("spb-roads")), &h));
        assert_eq!(head.scope(&h).orgs, vec!["roads".to_string(), "roads-north".to_string()]);
        assert!(head.may_route_to(h.org("roads-north").unwrap(), &h));
        assert!(!head.may_route_to(h.org("spb-roads").unwrap(), &h));
    }
}

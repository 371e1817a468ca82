//! The taxonomy as Open311 services: every group (second level) is a service, its sub-topics are
//! the values of one optional `subtopic` attribute, its direction is the service's `group`.

use std::collections::HashMap;

use otklik_core::model::Category;

use super::render::Val;

/// The attribute through which a client picks a sub-topic of the service.
pub const SUBTOPIC: &str = "subtopic";

/// One service and what it is built from.
#[derive(Debug, Clone)]
pub struct Service<'a> {
    pub node: &'a Category,
    /// The direction (first level) the service belongs to.
    pub direction: Option<&'a Category>,
    /// The sub-topics, in code order.
    pub subtopics: Vec<&'a Category>,
}

/// The services of a taxonomy, in code order. A group is a service; a direction without groups is
/// a service by itself, so no part of the taxonomy is unreachable.
pub fn services(categories: &HashMap<String, Category>) -> Vec<Service<'_>> {
    let mut nodes: Vec<&Category> = categories.values().collect();
    nodes.sort_by(|a, b| a.code.cmp(&b.code));
    let children =
        |code: &str| -> Vec<&Category> { nodes.iter().copied().filter(|c| c.parent() == Some(code)).collect() };
    nodes
        .iter()
        .copied()
        .filter(|c| c.level() == 2 || (c.level() == 1 && children(&c.code).is_empty()))
        .map(|c| Service {
            node: c,
            direction: if c.level() == 1 { None } else { categories.get(c.direction()) },
            subtopics: children(&c.code),
        })
        .collect()
}

/// The service with this code, if it is one.
pub fn service<'a>(categories: &'a HashMap<String, Category>, code: &str) -> Option<Service<'a>> {
    let node = categories.get(code)?;
    let is_service = node.level() == 2 || (node.level() == 1 && !categories.values().any(|c| c.parent() == Some(code)));
    if !is_service {
        return None;
    }
    let mut subtopics: Vec<&Category> = categories.values().filter(|c| c.parent() == Some(code)).collect();
    subtopics.sort_by(|a, b| a.code.cmp(&b.code));
    Some(Service {
        node,
        direction: if node.level() == 1 { None } else { categories.get(node.direction()) },
        subtopics,
    })
}

/// The service an incident's category falls under: the category's group, or a direction that is
/// a service by itself. A bare direction with groups has none.
pub fn service_of<'a>(categories: &'a HashMap<String, Category>, category: &str) -> Option<Service<'a>> {
    let mut parts = category.split('.');
    let direction = parts.next()?;
    match parts.next() {
        Some(group) => service(categories, &format!("{direction}.{group}")),
        None => service(categories, direction),
    }
}

impl Service<'_> {
    /// The entry of `GET services`.
    pub fn to_val(&self) -> Val {
        let group = self.direction.map(|d| d.name.clone()).unwrap_or_else(|| self.node.name.clone());
        // Keywords are comma-separated, so commas inside a name would split it.
        let keywords: Vec<String> = self.subtopics.iter().map(|s| s.name.replace(',', " ")).collect();
        Val::Obj(vec![
            ("service_code", Val::str(&self.node.code)),
            ("service_name", Val::str(&self.node.name)),
            ("description", Val::str(self.description())),
            ("metadata", Val::Bool(!self.subtopics.is_empty())),
            ("type", Val::str("realtime")),
            ("keywords", Val::str(keywords.join(", "))),
            ("group", Val::str(group)),
        ])
    }

    fn description(&self) -> String {
        let mut d = match self.direction {
            Some(dir) => format!("{} (направление «{}»)", self.node.name, dir.name),
            None => self.node.name.clone(),
        };
        if !self.subtopics.is_empty() {
            let names: Vec<&str> = self.subtopics.iter().map(|s| s.name.as_str()).collect();
            d.push_str(". Подтемы: ");
            d.push_str(&names.join("; "));
        }
        d
    }

    /// The service definition of `GET services/{code}`.
    pub fn definition(&self) -> Val {
        let mut attributes = Vec::new();
        if !self.subtopics.is_empty() {
            let values = self
                .subtopics
                .iter()
                .map(|s| Val::Obj(vec![("key", Val::str(&s.code)), ("name", Val::str(&s.name))]))
                .collect();
            attributes.push(Val::Obj(vec![
                ("variable", Val::Bool(true)),
                ("code", Val::str(SUBTOPIC)),
                ("datatype", Val::str("singlevaluelist")),
                ("required", Val::Bool(false)),
                ("datatype_description", Val::str("Выберите подтему из списка")),
                ("order", Val::Int(1)),
                ("description", Val::str("Подтема обращения")),
                ("values", Val::List("value", values)),
            ]));
        }
        Val::Obj(vec![("service_code", Val::str(&self.node.code)), ("attributes", Val::List("attribute", attributes))])
    }

    /// Whether `code` is one of this service's sub-topics.
    pub fn has_subtopic(&self, code: &str) -> bool {
        self.subtopics.iter().any(|s| s.code == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(code: &str, name: &str) -> (String, Category) {
        (code.into(), Category { code: code.into(), name: name.into(), photo_required: false, form_days: None })
    }

    #[test]
    fn groups_and_lonely_directions_are_services() {
        let cats: HashMap<String, Category> = [
            cat("roads", "Дороги"),
            cat("roads.surface", "Покрытие"),
            cat("roads.surface.potholes", "Ямы, выбоины"),
            cat("roads.lights", "Свет"),
            cat("misc", "Прочее"),
        ]
        .into_iter()
        .collect();
        let codes: Vec<&str> = services(&cats).iter().map(|s| s.node.code.as_str()).collect();
        assert_eq!(codes, vec!["misc", "roads.lights", "roads.surface"]);
        assert!(service(&cats, "roads").is_none(), "a direction with groups is not a service");
        assert!(service(&cats, "roads.surface.potholes").is_none());
        let s = service_of(&cats, "roads.surface.potholes").unwrap();
        assert_eq!(s.node.code, "roads.surface");
        assert!(s.has_subtopic("roads.surface.potholes"));
        assert!(service_of(&cats, "roads").is_none());
        let Val::Obj(fields) = s.to_val() else { panic!() };
        assert!(fields.contains(&("keywords", Val::str("Ямы  выбоины"))));
        assert!(fields.contains(&("group", Val::str("Дороги"))));
        assert!(fields.contains(&("metadata", Val::Bool(true))));
        let empty =
            Val::Obj(vec![("service_code", Val::str("roads.lights")), ("attributes", Val::List("attribute", vec![]))]);
        assert_eq!(service(&cats, "roads.lights").unwrap().definition(), empty);
    }
}

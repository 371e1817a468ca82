//! Russian names of statuses and actions, as citizens and operators read them.

use otklik_core::status::{Action, Status};

/// The status as a citizen or an operator calls it.
pub fn status(s: Status) -> &'static str {
    match s {
        Status::New => "Принято",
        Status::Moderated => "Проверено",
        Status::Assigned => "Передано исполнителю",
        Status::InWork => "В работе",
        Status::Review => "Ответ на проверке",
        Status::Rework => "Ответ дорабатывается",
        Status::Approved => "Ответ согласован",
        Status::Answered => "Дан ответ",
        Status::Closed => "Закрыто",
        Status::Rejected => "Отклонено",
        Status::Deferred => "Отложено",
        Status::WaitingCitizen => "Ждём ваших уточнений",
    }
}

/// What happened, in a history line; `None` for internal steps a citizen need not see.
pub fn public_action(action: &str) -> Option<&'static str> {
    Some(match Action::parse(action)? {
        Action::Assign | Action::Redirect => "Передано в ответственную организацию",
        Action::Take => "Взято в работу",
        Action::PublishIntermediate => "Опубликован промежуточный ответ",
        Action::PublishFinal => "Опубликован ответ",
        Action::Close | Action::AutoClose => "Обращение закрыто",
        Action::Reopen => "Обращение возобновлено",
        Action::Reject => "Обращение отклонено",
        Action::Defer => "Работы отложены",
        Action::Resume => "Работа продолжена",
        Action::AskCitizen => "Заданы уточняющие вопросы",
        Action::Rate => "Получена оценка ответа",
        Action::Merge => "Объединено с обращением о той же проблеме",
        Action::Extend => "Срок ответа продлён",
        Action::AddCoExecutor => "К работе привлечена ещё одна организация",
        Action::RemoveCoExecutor | Action::Contribute => return None,
        Action::Moderate
        | Action::Split
        | Action::DraftAnswer
        | Action::SubmitForReview
        | Action::Approve
        | Action::ReturnForRework
        | Action::Tag => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_distinct_name() {
        let names: std::collections::HashSet<_> = Status::ALL.iter().map(|s| status(*s)).collect();
        assert_eq!(names.len(), Status::ALL.len());
    }

    #[test]
    fn internal_review_steps_stay_private() {
        assert_eq!(public_action("approve"), None);
        assert_eq!(public_action("return_for_rework"), None);
        assert_eq!(public_action("publish_final"), Some("Опубликован ответ"));
        assert_eq!(public_action("intake"), None);
    }
}

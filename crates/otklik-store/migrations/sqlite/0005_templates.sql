-- Answer templates administrators keep for the answer editor, seeded with the ones the console
-- had built in. {номер}, {организация}, {срок} and {адрес} are filled in for the incident.
CREATE TABLE answer_templates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0
);

INSERT INTO answer_templates (name, text, position) VALUES
    ('Принято в работу', 'Здравствуйте! Ваше обращение № {номер} принято в работу организацией «{организация}». Ответ будет дан до {срок}.', 10),
    ('Работы запланированы', 'Здравствуйте! По вашему обращению № {номер}: работы запланированы, ориентировочный срок — {срок}. Благодарим за сигнал.', 20),
    ('Работы выполнены', 'Здравствуйте! По вашему обращению № {номер} работы выполнены. Фотография результата приложена. Спасибо за неравнодушие!', 30),
    ('Уточнение', 'Здравствуйте! Чтобы решить вопрос по обращению № {номер}, уточните, пожалуйста, точный адрес: {адрес}.', 40);

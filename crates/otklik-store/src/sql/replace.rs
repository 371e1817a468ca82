//! Stored production calendar years, and the replacement of all reference data in one transaction
//! (an explicit reload of the reference files).

use otklik_core::StoreError;
use otklik_core::reference::ReferenceData;
use otklik_core::store::StoredCalendarYear;
use sqlx::any::AnyRow;

use super::{
    SqlStore, at, backend_error, category_write, deadline_policy_write, get, ms, organisation_write,
    routing_rule_write, source_write, territory_write,
};

fn calendar_row(r: &AnyRow) -> Result<StoredCalendarYear, StoreError> {
    let year: i64 = get(r, "year")?;
    Ok(StoredCalendarYear {
        year: i32::try_from(year).map_err(|_| StoreError::Backend(format!("unreadable calendar year {year}")))?,
        text: get(r, "body")?,
        updated_at: at(get(r, "updated_at")?),
        updated_by: get(r, "updated_by")?,
    })
}

async fn insert_calendar_year<'e, E>(exec: E, y: &StoredCalendarYear) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO calendar_years (year, body, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (year) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at, \
         updated_by = excluded.updated_by",
    )
    .bind(i64::from(y.year))
    .bind(&y.text)
    .bind(ms(y.updated_at))
    .bind(y.updated_by.clone())
    .execute(exec)
    .await
    .map_err(backend_error)?;
    Ok(())
}

impl SqlStore {
    pub(super) async fn list_calendar_years(&self) -> Result<Vec<StoredCalendarYear>, StoreError> {
        let rows = sqlx::query("SELECT year, body, updated_at, updated_by FROM calendar_years ORDER BY year")
            .fetch_all(&self.pool)
            .await
            .map_err(backend_error)?;
        rows.iter().map(calendar_row).collect()
    }

    pub(super) async fn one_calendar_year(&self, year: i32) -> Result<Option<StoredCalendarYear>, StoreError> {
        let row = sqlx::query("SELECT year, body, updated_at, updated_by FROM calendar_years WHERE year = $1")
            .bind(i64::from(year))
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_error)?;
        row.as_ref().map(calendar_row).transpose()
    }

    pub(super) async fn store_calendar_year(&self, y: &StoredCalendarYear) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        insert_calendar_year(&self.pool, y).await
    }

    pub(super) async fn remove_calendar_year(&self, year: i32) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        let done = sqlx::query("DELETE FROM calendar_years WHERE year = $1")
            .bind(i64::from(year))
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(done.rows_affected() > 0)
    }

    /// Empties the reference tables and fills them from `data` (and the calendar years from
    /// `calendar`, when given) in one transaction, so readers see the old set or the new one.
    pub(super) async fn replace_reference_data(
        &self,
        data: &ReferenceData,
        calendar: Option<&[StoredCalendarYear]>,
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await.map_err(backend_error)?;
        let mut tables =
            vec!["territories", "organisations", "categories", "sources", "routing_rules", "deadline_policies"];
        if calendar.is_some() {
            tables.push("calendar_years");
        }
        for table in tables {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
        }
        // Plain inserts: a code given twice in the new set fails the whole replacement.
        let queries = (data.territories.iter().map(|t| territory_write(t, false)))
            .chain(data.organisations.iter().map(|o| organisation_write(o, false)))
            .chain(data.categories.iter().map(|c| category_write(c, false)))
            .chain(data.sources.iter().map(|x| source_write(x, false)))
            .chain(data.routing.iter().map(|r| routing_rule_write(r, false)))
            .chain(data.deadlines.iter().map(|p| deadline_policy_write(p, false)));
        for q in queries {
            q.execute(&mut *tx).await.map_err(backend_error)?;
        }
        for y in calendar.unwrap_or_default() {
            insert_calendar_year(&mut *tx, y).await?;
        }
        tx.commit().await.map_err(backend_error)?;
        Ok(())
    }
}

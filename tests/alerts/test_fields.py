"""One list of alert fields (alerts/fields.py) behind the worklist, the files, the
database table and the API schema."""

from __future__ import annotations

import pandas as pd

from alerts.fields import ALERT_FIELDS, API_FIELDS, DELIVERED_FIELDS
from alerts.files import delivered
from alerts.tables import AlertRow
from alerts.worklist import build_worklist
from config.alerts import AlertsParams
from serving.alert_schemas import Alert
from tests.alerts.helpers import scores_frame


def test_worklist_files_table_and_api_share_the_field_list() -> None:
    alerts = build_worklist(scores_frame(10), pd.DataFrame(), AlertsParams(), seed=0).alerts
    assert tuple(alerts.columns) == ALERT_FIELDS
    assert tuple(delivered(alerts).columns) == DELIVERED_FIELDS
    assert "group" not in DELIVERED_FIELDS and "group" not in API_FIELDS
    assert tuple(Alert.model_fields) == API_FIELDS
    stored = {c.key for c in AlertRow.__table__.columns}
    assert set(ALERT_FIELDS) | {"status"} <= stored
    assert API_FIELDS.index("status") == API_FIELDS.index("is_new") + 1

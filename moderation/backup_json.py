"""The serialisation format of backups: Django's JSON with datetimes to the microsecond.

Django's JSON encoder cuts datetimes to milliseconds (ECMA-262 dates), so a dump and a load would
move every timestamp; registered as ``backup-json`` in ``SERIALIZATION_MODULES``.
"""

import datetime
from typing import Any

from django.core.serializers import json
from django.core.serializers.json import DjangoJSONEncoder


class FullPrecisionEncoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, datetime.datetime):
            return o.isoformat()
        return super().default(o)


class Serializer(json.Serializer):
    def serialize(self, queryset: Any, **options: Any) -> Any:
        # Options other than the serializer's own go to json.dump.
        options.setdefault("cls", FullPrecisionEncoder)
        return super().serialize(queryset, **options)


Deserializer = json.Deserializer

"""The rules about people, in one place: consent policy, keyed hashes, erasure tombstones, audit trail.

Every layer asks these modules; nothing reads or writes personal data around them:

* :mod:`graph_model.privacy.policy`: may this purpose use this customer's data (on this channel)?
* :mod:`graph_model.privacy.keys`: the keyed hash that stands in for a personal value;
* :mod:`graph_model.privacy.consent`: the one writer of consent records (ordered by their own time);
* :mod:`graph_model.privacy.tombstone`: was this customer or identifier erased?
* :mod:`graph_model.privacy.erasure`: the right to erasure (GDPR Art. 17);
* :mod:`graph_model.privacy.access`: the right of access (Art. 15), one JSON document per person;
* :mod:`graph_model.privacy.redaction`: personal fields out of reject files, and their purge;
* :mod:`graph_model.privacy.audit`: the append-only trail of erasures, exports, consent changes and
  admin reads of personal fields.

``docs/privacy.md`` is the reader's version of these rules.
"""

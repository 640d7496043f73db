"""Results: the outcomes of finished attempts for staff (list, detail, a candidate's PT result),
read from the outcome stored when the attempt finished and scoped to the actor's subtree."""

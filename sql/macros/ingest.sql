-- Helpers shared by the vendor parsers (sql/parsers/*.sql); installed with the PII macros by the loader.

-- Why a JSON-lines record is not a usable JSON object. Parsers parse each record once with
-- try(json_transform(...)) and call this only for the records that failed, so good records never pay for it.
CREATE OR REPLACE MACRO json_record_error(text) AS
    CASE WHEN NOT json_valid(text) THEN 'invalid JSON'
         WHEN json_type(text) = 'OBJECT' THEN 'JSON object the parser could not read'
         ELSE 'not a JSON object (' || CASE json_type(text) WHEN 'VARCHAR' THEN 'string'
                                       WHEN 'ARRAY' THEN 'array' WHEN 'BOOLEAN' THEN 'boolean'
                                       WHEN 'NULL' THEN 'null' ELSE 'number' END || ')' END;

-- Stock position by SKU: received, allocated (net of releases), shipped and available,
-- with the units allocated but not yet shipped (still in the warehouse, promised).
SELECT sku,
       received,
       allocated,
       shipped,
       available,
       allocated - shipped AS allocated_not_shipped
FROM reporting.supply
ORDER BY sku;

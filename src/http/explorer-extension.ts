// JavaScript added to Orthanc Explorer (jQuery Mobile, Orthanc 1.10): a
// button on the patient and study pages that opens the matching FHIR
// resource, whose id is Orthanc's own.
export const EXPLORER_EXTENSION = `
(function () {
  function addFhirButton(page, type, anchor) {
    $(page).live('pagebeforecreate', function () {
      var button = $('<a>')
        .attr('data-role', 'button')
        .attr('href', '#')
        .attr('data-icon', 'forward')
        .attr('id', 'orthanc-fhir-' + type.toLowerCase())
        .text('FHIR ' + type);
      button.insertBefore($(anchor).parent().parent());
      button.click(function () {
        if ($.mobile.pageData && $.mobile.pageData.uuid) {
          window.location.href = '../fhir/' + type + '/' + encodeURIComponent($.mobile.pageData.uuid) + '?_format=html';
        }
      });
    });
  }
  addFhirButton('#patient', 'Patient', '#patient-delete');
  addFhirButton('#study', 'ImagingStudy', '#study-delete');
})();
`;
